"""What the simulated customers and agents write in ticket comments, with what each phrase is about.

A customer's comment is one phrase of `CUSTOMER_PHRASES`, in the ticket's language, whose topic
(one of the nine starter topics of dbt_project/seeds/topic_taxonomy.csv) and sentiment are
known: so the simulator's verbatims come labelled, and a test can check that enrichment reads
them as written (tests/test_zendesk_comments.py). Each (language, topic, sentiment) has two
wordings. A phrase mentions its own topic and no other, so its label is the whole truth about
it. Agents answer in the customer's language with neutral, polite phrases (`AGENT_REPLIES`)
and leave internal notes (`INTERNAL_NOTES`) that are not the customer's words.
"""

from __future__ import annotations

from random import Random
from typing import NamedTuple

LANGUAGES = ("en", "pl", "fr", "fa", "zh")
TOPICS = ("delivery", "price", "billing", "support_speed", "staff_attitude", "product_quality", "app_website",
          "returns_refunds", "onboarding")
SENTIMENTS = ("negative", "positive")


class Phrase(NamedTuple):
    language: str
    topic: str
    sentiment: str
    text: str


_NEG, _POS = SENTIMENTS

# (topic, sentiment) -> language -> wordings.
_BANK: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("delivery", _NEG): {
        "en": ("My parcel never arrived and the tracking has not moved for a week.",
               "The courier left the package outside in the rain, very disappointing."),
        "pl": ("Paczka nie przyszła, kurier jest fatalny.",
               "Przesyłka dotarła tydzień za późno, jestem rozczarowany."),
        "fr": ("Mon colis n'est jamais arrivé, c'est inadmissible.",
               "Le transporteur a perdu le paquet, très déçu."),
        "fa": ("بسته هنوز نرسیده و خیلی ناراضی هستم.",
               "پیک خیلی دیر رسید، افتضاح بود."),
        "zh": ("快递一直没到，太失望了。",
               "物流太慢了，包裹延误了一周，很差。"),
    },
    ("delivery", _POS): {
        "en": ("The parcel arrived next day, great courier.",
               "Delivery was fast and the package was perfect, thank you."),
        "pl": ("Paczka dotarła szybko, świetny kurier.",
               "Dostawa była błyskawiczna, bardzo dziękuję."),
        "fr": ("Colis arrivé rapidement, livraison parfaite.",
               "Le livreur était à l'heure, super service de livraison."),
        "fa": ("بسته خیلی سریع رسید، عالی بود.",
               "ارسال سریع و عالی بود، ممنون."),
        "zh": ("快递很快就到了，非常满意。",
               "物流速度很快，包裹完好，很好。"),
    },
    ("price", _NEG): {
        "en": ("Far too expensive, a total rip off.",
               "The price went up again and it is overpriced now."),
        "pl": ("Za drogo, cena jest zdecydowanie przesadzona.",
               "Ceny są absurdalnie wysokie, fatalnie."),
        "fr": ("Beaucoup trop cher, c'est inadmissible.",
               "Le prix est excessif, je suis déçu."),
        "fa": ("قیمت خیلی گران است، افتضاح.",
               "خیلی گرونه و اصلا نمیارزه."),
        "zh": ("价格太贵了，太坑了。",
               "涨价了，真的不值，很失望。"),
    },
    ("price", _POS): {
        "en": ("Great value for money, the price is fair.",
               "Cheap and excellent, I love it."),
        "pl": ("Świetna cena, bardzo polecam.",
               "Tanio i dobrze, jestem zadowolony."),
        "fr": ("Prix très raisonnable, je recommande.",
               "Prix très abordable, super."),
        "fa": ("قیمت عالی و مناسب بود، راضی هستم.",
               "خیلی ارزان و خوب بود، ممنون."),
        "zh": ("性价比很高，非常满意。",
               "价格实惠，很划算，很好。"),
    },
    ("billing", _NEG): {
        "en": ("I was charged twice on my invoice, this is unacceptable.",
               "The payment failed but my card was still charged, terrible."),
        "pl": ("Faktura jest błędna, pobrano podwójną opłatę, skandal.",
               "Płatność nie przeszła, a karta została obciążona, fatalnie."),
        "fr": ("J'ai été débité deux fois sur ma facture, c'est inadmissible.",
               "Le paiement a échoué mais ma carte bancaire a été prélevée, nul."),
        "fa": ("دوبار کسر شد از حسابم، افتضاح است.",
               "فاکتور اشتباه است و خیلی ناراضی هستم."),
        "zh": ("扣款重复了，扣了两次，太差了。",
               "账单有错误，乱收费，非常失望。"),
    },
    ("billing", _POS): {
        "en": ("The invoice was clear and the payment went through easily, great.",
               "Paying the invoice by card was simple, thank you."),
        "pl": ("Faktura przyszła od razu, płatność bez problemu, super.",
               "Płatność kartą była prosta, dziękuję."),
        "fr": ("La facture était claire et le paiement facile, parfait.",
               "Paiement par carte bancaire très simple, merci."),
        "fa": ("پرداخت خیلی راحت بود، عالی.",
               "فاکتور سریع آمد و پرداخت آسان بود، ممنون."),
        "zh": ("付款很方便，非常满意。",
               "发票开得很快，支付很顺利，很好。"),
    },
    ("support_speed", _NEG): {
        "en": ("Still no reply to my ticket after five days, terrible.",
               "Nobody answered my emails, this is unacceptable."),
        "pl": ("Brak odpowiedzi na zgłoszenie od tygodnia, fatalnie.",
               "Nikt nie odbiera na infolinii, skandal."),
        "fr": ("Toujours aucune réponse à mon ticket, c'est inadmissible.",
               "Pas de réponse depuis une semaine, très déçu."),
        "fa": ("هنوز هیچ پاسخی به تیکت من نداده‌اند، افتضاح.",
               "منتظر جواب هستم و خیلی ناراضی هستم."),
        "zh": ("工单一直没人回，太差了。",
               "联系不上人工客服，非常失望。"),
    },
    ("support_speed", _POS): {
        "en": ("You replied within minutes, excellent.",
               "Quick response to my ticket, thank you."),
        "pl": ("Szybka odpowiedź na zgłoszenie, super.",
               "Odpowiedzieli w kilka minut, dziękuję bardzo."),
        "fr": ("Réponse très rapide à mon ticket, merci.",
               "Vous avez répondu en quelques minutes, parfait."),
        "fa": ("پاسخ خیلی سریع بود، ممنون.",
               "جواب تیکتم را سریع دادند، عالی."),
        "zh": ("回复很及时，非常满意。",
               "秒回，效率很高，谢谢。"),
    },
    ("staff_attitude", _NEG): {
        "en": ("The agent was rude and unhelpful.",
               "Your staff were very impolite to me, awful."),
        "pl": ("Konsultant był bardzo niemiły i arogancki.",
               "Personel był chamski, fatalnie."),
        "fr": ("Le conseiller était impoli et désagréable.",
               "Le personnel était très grossier, inadmissible."),
        "fa": ("اپراتور خیلی بی ادب بود، افتضاح.",
               "برخورد کارمند خیلی بد بود."),
        "zh": ("工作人员态度很差。",
               "客服员工太凶了，很冷漠，太失望了。"),
    },
    ("staff_attitude", _POS): {
        "en": ("The agent was friendly and very polite.",
               "Your staff were kind and helpful, thank you."),
        "pl": ("Konsultant był bardzo miły i pomocny.",
               "Bardzo uprzejmy personel, dziękuję."),
        "fr": ("Le conseiller était très aimable, merci.",
               "Personnel sympathique et poli, parfait."),
        "fa": ("اپراتور خیلی مودب و خوش برخورد بود.",
               "کارمند شما با احترام رفتار کرد، ممنون."),
        "zh": ("工作人员态度很好，很有耐心。",
               "员工很热情，非常友好，谢谢。"),
    },
    ("product_quality", _NEG): {
        "en": ("The product broke after two days, poor quality.",
               "It arrived defective and the material is rubbish."),
        "pl": ("Produkt zepsuł się po dwóch dniach, fatalna jakość.",
               "Materiał jest tandetny, jestem rozczarowany."),
        "fr": ("Le produit est cassé, qualité médiocre.",
               "Article défectueux, je suis très déçu."),
        "fa": ("کیفیت خیلی بد است و خراب شد.",
               "جنس بی کیفیت بود، افتضاح."),
        "zh": ("质量太差了，用了两天就坏了。",
               "做工很差，有瑕疵，很失望。"),
    },
    ("product_quality", _POS): {
        "en": ("Excellent quality, very well made.",
               "The material is solid and durable, I love it."),
        "pl": ("Świetna jakość, bardzo solidne wykonanie.",
               "Materiał jest bardzo dobry, polecam."),
        "fr": ("Excellente qualité, très solide.",
               "Finition parfaite, je suis ravi."),
        "fa": ("کیفیت عالی است، خیلی راضی هستم.",
               "جنس خیلی خوب و محکم است."),
        "zh": ("质量非常好，很满意。",
               "做工很好，很结实，非常喜欢。"),
    },
    ("app_website", _NEG): {
        "en": ("The app keeps crashing when I log in, useless.",
               "Your website is down and the checkout page will not load, terrible."),
        "pl": ("Aplikacja ciągle się zawiesza, fatalnie.",
               "Strona nie działa i nie mogę się zalogować, skandal."),
        "fr": ("L'application plante tout le temps, nul.",
               "Le site ne marche pas, impossible de me connecter, très déçu."),
        "fa": ("اپلیکیشن مدام کرش می‌کند، افتضاح.",
               "سایت باز نمیشه و خیلی ناراضی هستم."),
        "zh": ("软件一直闪退，太差了。",
               "网站打不开，登录不了，很失望。"),
    },
    ("app_website", _POS): {
        "en": ("The app is great and easy to use.",
               "Your website is fast and simple, I love it."),
        "pl": ("Aplikacja jest świetna i prosta w obsłudze.",
               "Strona działa bardzo dobrze, polecam."),
        "fr": ("L'application est super et facile à utiliser.",
               "Le site est rapide et pratique, parfait."),
        "fa": ("اپلیکیشن عالی و راحت است.",
               "سایت شما خیلی خوب است، ممنون."),
        "zh": ("这个软件很好用，非常满意。",
               "网站界面很清楚，很方便，很好。"),
    },
    ("returns_refunds", _NEG): {
        "en": ("I am still waiting for my refund after a month, terrible.",
               "The return was refused for no reason, unacceptable."),
        "pl": ("Nadal czekam na zwrot pieniędzy, skandal.",
               "Reklamacja została odrzucona bez powodu, fatalnie."),
        "fr": ("J'attends toujours mon remboursement, inadmissible.",
               "Le retour a été refusé sans raison, très déçu."),
        "fa": ("هنوز پولم برگردونده نشده، افتضاح.",
               "مرجوعی را قبول نکردند، خیلی ناراضی هستم."),
        "zh": ("退款一直没有到账，太差了。",
               "退货被拒绝了，非常失望。"),
    },
    ("returns_refunds", _POS): {
        "en": ("The refund came through quickly, thank you.",
               "The exchange was easy and fast, excellent."),
        "pl": ("Zwrot pieniędzy przyszedł szybko, dziękuję.",
               "Wymiana przebiegła bez problemu, super."),
        "fr": ("Remboursement reçu très vite, merci.",
               "L'échange était simple et rapide, parfait."),
        "fa": ("مرجوعی خیلی راحت انجام شد، ممنون.",
               "تعویض سریع و عالی بود."),
        "zh": ("退款很快就到了，非常满意。",
               "换货很顺利，很好，谢谢。"),
    },
    ("onboarding", _NEG): {
        "en": ("Signing up was confusing and the activation email never came, frustrating.",
               "The setup is complicated and there is no tutorial, awful."),
        "pl": ("Rejestracja jest skomplikowana, fatalnie.",
               "Aktywacja konta nie działa, jestem rozczarowany."),
        "fr": ("L'inscription est compliquée, très déçu.",
               "L'installation est un cauchemar, nul."),
        "fa": ("ثبت نام خیلی سخت بود، افتضاح.",
               "کد تایید نیامد و خیلی ناراضی هستم."),
        "zh": ("注册太麻烦了，很失望。",
               "激活一直失败，太差了。"),
    },
    ("onboarding", _POS): {
        "en": ("Signing up was quick and the tutorial was great.",
               "The setup was easy, thank you."),
        "pl": ("Rejestracja była szybka i prosta, super.",
               "Instalacja poszła bez problemu, dziękuję."),
        "fr": ("L'inscription était simple et rapide, parfait.",
               "Installation facile, merci beaucoup."),
        "fa": ("ثبت نام خیلی راحت بود، عالی.",
               "نصب خیلی آسان بود، ممنون."),
        "zh": ("注册很简单，非常满意。",
               "新手教程很好，很容易上手，谢谢。"),
    },
}

CUSTOMER_PHRASES: tuple[Phrase, ...] = tuple(
    Phrase(language, topic, sentiment, text)
    for (topic, sentiment), by_language in _BANK.items()
    for language, wordings in by_language.items()
    for text in wordings
)

# An agent's public answers: polite and neutral, about no topic of the taxonomy.
AGENT_REPLIES: dict[str, tuple[str, ...]] = {
    "en": ("Hello, I have looked into this for you and will come back shortly.",
           "Could you send us your order number, please?",
           "I have passed this on to my colleagues and we will keep you updated."),
    "pl": ("Dzień dobry, sprawdzam sprawę i wkrótce wrócę z informacją.",
           "Czy może Pan przesłać numer zamówienia?",
           "Przekazałem sprawę do zespołu, będziemy informować."),
    "fr": ("Bonjour, je regarde cela pour vous et je reviens vers vous.",
           "Pourriez-vous nous envoyer votre numéro de commande ?",
           "J'ai transmis votre demande à l'équipe, nous vous tiendrons informé."),
    "fa": ("سلام، موضوع را بررسی می‌کنم و به زودی خبر می‌دهم.",
           "لطفا شماره سفارش خود را بفرستید.",
           "موضوع را به همکارانم ارجاع دادم و شما را در جریان می‌گذاریم."),
    "zh": ("您好，我正在为您核实，稍后告知结果。",
           "请提供您的订单号。",
           "已转交同事处理，我们会及时告知进展。"),
}

# Agents' notes to each other (public false): never a customer's verbatim.
INTERNAL_NOTES: dict[str, tuple[str, ...]] = {
    "en": ("Checked the order history, escalating to tier two.", "Customer contacted twice already."),
    "pl": ("Sprawdziłem historię zamówienia, przekazuję dalej.", "Klient kontaktował się już dwa razy."),
    "fr": ("Historique vérifié, transmis au niveau deux.", "Le client nous a déjà contactés deux fois."),
    "fa": ("سابقه سفارش بررسی شد، به سطح دو ارجاع شد.", "مشتری قبلا دو بار تماس گرفته است."),
    "zh": ("已核对订单记录，转二线处理。", "客户已联系过两次。"),
}

_BY_KEY: dict[tuple[str, str, str], tuple[Phrase, ...]] = {}
for _phrase in CUSTOMER_PHRASES:
    _BY_KEY.setdefault((_phrase.language, _phrase.topic, _phrase.sentiment), ())
    _BY_KEY[(_phrase.language, _phrase.topic, _phrase.sentiment)] += (_phrase,)


_BY_TEXT: dict[str, Phrase] = {phrase.text: phrase for phrase in CUSTOMER_PHRASES}


def label_of(text: str) -> Phrase | None:
    """The bank's row a customer's text was drawn from (its known topic and sentiment), None if it is not one."""
    return _BY_TEXT.get(text)


def customer_phrase(rng: Random, language: str, sentiment: str, topic: str | None = None) -> Phrase:
    """A customer's phrase in `language` with `sentiment`, about `topic` (drawn from `rng` when None)."""
    topic = topic if topic is not None else rng.choice(TOPICS)
    return rng.choice(_BY_KEY[(language, topic, sentiment)])


def agent_reply(rng: Random, language: str) -> str:
    return rng.choice(AGENT_REPLIES[language])


def internal_note(rng: Random, language: str) -> str:
    return rng.choice(INTERNAL_NOTES[language])
