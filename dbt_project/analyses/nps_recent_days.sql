-- NPS of the last seven days with answers, all channels together (scripts/summary.py prints it).
select
    date,
    sum(responses)                                                  as responses,
    sum(promoters)                                                  as promoters,
    sum(passives)                                                   as passives,
    sum(detractors)                                                 as detractors,
    {{ nps('sum(promoters)', 'sum(detractors)', 'sum(responses)') }} as nps
from {{ ref('kpi_nps_daily') }}
group by date
order by date desc
limit 7
