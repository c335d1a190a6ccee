"""Static tables behind the demo data set of `signals.sample`.

Made-up companies (ICP and non-ICP), name pools by country, titles by seniority, time zones,
the seller's site pages and referrers, email subjects and campaigns, funding rounds and
investors. Pure constants: no randomness and no clock here; `signals.sample` draws from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ASCII_FOLD",
    "CAMPAIGNS",
    "FIRST_NAMES",
    "ICP_COMPANIES",
    "INVESTORS",
    "LAST_NAMES",
    "NAME_POOL",
    "OTHER_COMPANIES",
    "PAGES_CASUAL",
    "PAGES_HOT",
    "REFERRERS",
    "ROUNDS",
    "SENIOR",
    "SENIORITY_WEIGHTS",
    "SITE",
    "SUBJECTS",
    "TIMEZONES",
    "TINY_TITLES",
    "TITLES",
    "Company",
]

SITE: Final = "https://www.relaywise.example"


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    domain: str
    industry: str
    employees: int
    country: str
    technologies: tuple[str, ...] = ()

    @property
    def icp(self) -> bool:
        return (
            self.industry in {"software", "saas", "fintech"}
            and 50 <= self.employees <= 5000
            and self.country in {"US", "GB", "DE", "FR", "NL", "CA"}
        )

    def payload(self, *, full: bool = True) -> dict[str, Any]:
        if not full:
            return {"domain": self.domain, "name": self.name}
        out: dict[str, Any] = {
            "domain": self.domain,
            "name": self.name,
            "industry": self.industry,
            "employees": self.employees,
            "country": self.country,
        }
        if self.technologies:
            out["technologies"] = list(self.technologies)
        return out


_C = Company
ICP_COMPANIES: Final = (
    _C("Brightloom Analytics", "brightloom.io", "software", 240, "US", ("snowflake", "dbt")),
    _C("Quillstack", "quillstack.com", "saas", 85, "GB", ("segment", "hubspot")),
    _C("Ferrowave Payments", "ferrowave.io", "fintech", 620, "NL", ("kafka", "salesforce")),
    _C("Nordpine Labs", "nordpine.de", "software", 130, "DE", ("postgres", "kafka")),
    _C("Cobaltfield", "cobaltfield.io", "saas", 1400, "US", ("salesforce", "snowflake")),
    _C("Lumenrail", "lumenrail.com", "fintech", 3100, "GB", ("kafka", "databricks")),
    _C("Tessellate Data", "tessellatedata.io", "software", 55, "CA", ("dbt", "bigquery")),
    _C("Hexmoor", "hexmoor.fr", "saas", 310, "FR", ("hubspot", "segment")),
    _C("Orbitvale", "orbitvale.com", "software", 780, "US", ("kafka", "snowflake")),
    _C("Kestrel Ledger", "kestrelledger.com", "fintech", 190, "US", ("stripe", "postgres")),
    _C("Sproutgrid", "sproutgrid.io", "saas", 72, "NL", ("rudderstack",)),
    _C("Palisade Cloud", "palisadecloud.com", "software", 2200, "US", ("kafka", "salesforce")),
    _C("Mintara", "mintara.io", "fintech", 410, "DE", ("snowflake", "segment")),
    _C("Wrenfold", "wrenfold.io", "saas", 150, "GB", ("hubspot",)),
    _C("Glasswing Systems", "glasswingsys.com", "software", 960, "CA", ("databricks",)),
    _C("Tidewell", "tidewell.io", "saas", 64, "US", ("segment", "hubspot")),
    _C("Arclight Metrics", "arclightmetrics.com", "software", 280, "FR", ("snowplow", "dbt")),
    _C("Vantory", "vantory.io", "fintech", 1750, "US", ("kafka", "salesforce")),
    _C("Driftcode", "driftcode.dev", "software", 95, "DE", ("postgres",)),
    _C("Halcyon Stack", "halcyonstack.com", "saas", 520, "NL", ("snowflake", "hubspot")),
    _C("Pinecrest Billing", "pinecrestbilling.com", "fintech", 340, "CA", ("stripe",)),
    _C("Quantaloop", "quantaloop.io", "software", 4300, "US", ("kafka", "databricks")),
    _C("Redfern Works", "redfernworks.co.uk", "saas", 120, "GB", ("segment",)),
    _C("Skylark Ops", "skylarkops.io", "saas", 205, "US", ("rudderstack", "salesforce")),
    _C("Emberline", "emberline.io", "software", 60, "FR", ("bigquery",)),
    _C("Corvid Security", "corvidsec.com", "software", 880, "US", ("kafka", "okta")),
)
OTHER_COMPANIES: Final = (
    _C("Pixel & Pine Studio", "pixelandpine.com", "marketing agency", 3, "US"),
    _C("Eastmarch University", "eastmarch.edu", "higher education", 12000, "US"),
    _C("Corner Basket Grocers", "cornerbasket.com", "retail", 2400, "US"),
    _C("Tallow & Wick Candles", "tallowandwick.com", "retail", 18, "GB"),
    _C("Greenfold Landscaping", "greenfold-landscaping.com", "construction", 25, "AU"),
    _C("Mariner Freight", "marinerfreight.com", "logistics", 6800, "US"),
    _C("Saffron Table", "saffrontable.in", "hospitality", 40, "IN"),
    _C("Brightwater Dental", "brightwaterdental.com", "healthcare", 35, "CA"),
    _C("Solara Textiles", "solaratextiles.es", "manufacturing", 900, "ES"),
    _C("Oakhaven Library Trust", "oakhavenlibrary.org", "non-profit", 14, "GB"),
    _C("Atlas Continental Bank", "atlascontinental.com", "banking", 48000, "US"),
    _C("Juniper Solo Consulting", "junipersolo.com", "consulting", 1, "BR"),
    _C("Nimbus Kids Academy", "nimbuskids.com.br", "education", 60, "BR"),
    _C("Ridgeback Outfitters", "ridgebackoutfitters.com", "retail", 150, "DE"),
)

TIMEZONES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    "CA": ("America/Toronto", "America/Vancouver"),
    "GB": ("Europe/London",),
    "DE": ("Europe/Berlin",),
    "FR": ("Europe/Paris",),
    "NL": ("Europe/Amsterdam",),
    "ES": ("Europe/Madrid",),
    "AU": ("Australia/Sydney",),
    "IN": ("Asia/Kolkata",),
    "BR": ("America/Sao_Paulo",),
}
FIRST_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "en": (
        "Avery",
        "Jordan",
        "Priya",
        "Marcus",
        "Hannah",
        "Daniel",
        "Chloe",
        "Omar",
        "Grace",
        "Ethan",
        "Maya",
        "Liam",
        "Sofia",
        "Noah",
        "Amara",
        "Ryan",
        "Leah",
        "Caleb",
        "Nina",
        "Tyler",
        "Zoe",
        "Isaac",
        "Megan",
        "Kwame",
    ),
    "DE": ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Mia", "Tobias", "Katrin", "Jan", "Sabine"),
    "FR": ("Camille", "Louis", "Manon", "Hugo", "Chloé", "Théo", "Inès", "Julien", "Élodie"),
    "NL": ("Daan", "Sanne", "Bram", "Fleur", "Joris", "Lotte", "Thijs", "Eva", "Ruben"),
    "ES": ("Lucía", "Mateo", "Carmen", "Javier", "Elena", "Pablo"),
    "IN": ("Aarav", "Ananya", "Rohan", "Isha", "Vikram", "Meera"),
    "BR": ("Lucas", "Beatriz", "Gabriel", "Larissa", "Rafael", "Juliana"),
}
LAST_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "en": (
        "Carter",
        "Nguyen",
        "Patel",
        "Okafor",
        "Brennan",
        "Whitfield",
        "Morales",
        "Kim",
        "Hollis",
        "Fraser",
        "Lindqvist",
        "Adeyemi",
        "Sato",
        "Reyes",
        "Thornton",
        "Walsh",
        "Chen",
        "Abbott",
        "Desai",
        "Garrow",
        "Ellison",
        "Mbeki",
    ),
    "DE": ("Müller", "Schneider", "Becker", "Hoffmann", "Krause", "Vogel", "Wagner", "Lang"),
    "FR": ("Lefèvre", "Moreau", "Girard", "Dubois", "Laurent", "Rousseau", "Fontaine"),
    "NL": ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "van Dijk", "Mulder"),
    "ES": ("García", "Fernández", "Ruiz", "Navarro", "Ortega"),
    "IN": ("Sharma", "Iyer", "Reddy", "Kapoor", "Menon"),
    "BR": ("Silva", "Oliveira", "Souza", "Costa", "Almeida"),
}
NAME_POOL: Final = {"DE": "DE", "FR": "FR", "NL": "NL", "ES": "ES", "IN": "IN", "BR": "BR"}

# (title, seniority, department) and how often each seniority appears.
TITLES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "c_level": (
        ("CTO", "engineering"),
        ("CEO", "executive"),
        ("CFO", "finance"),
        ("Chief Revenue Officer", "sales"),
        ("COO", "operations"),
    ),
    "vp": (
        ("VP Engineering", "engineering"),
        ("VP Sales", "sales"),
        ("VP Marketing", "marketing"),
        ("VP Data", "data"),
        ("VP Product", "product"),
    ),
    "director": (
        ("Director RevOps", "revenue_operations"),
        ("Head of Data", "data"),
        ("Director of Engineering", "engineering"),
        ("Head of Growth", "marketing"),
        ("Director of Platform", "engineering"),
        ("Head of Sales", "sales"),
    ),
    "manager": (
        ("Engineering Manager", "engineering"),
        ("Data Platform Manager", "data"),
        ("Marketing Operations Manager", "marketing"),
        ("Sales Manager", "sales"),
        ("RevOps Manager", "revenue_operations"),
        ("Product Manager", "product"),
    ),
    "individual_contributor": (
        ("Software Engineer", "engineering"),
        ("Senior Software Engineer", "engineering"),
        ("Data Engineer", "data"),
        ("Data Analyst", "data"),
        ("Account Executive", "sales"),
        ("Product Designer", "design"),
        ("Marketing Specialist", "marketing"),
        ("Site Reliability Engineer", "engineering"),
    ),
    "intern": (
        ("Software Engineering Intern", "engineering"),
        ("Marketing Intern", "marketing"),
        ("Data Intern", "data"),
    ),
}
SENIORITY_WEIGHTS: Final = {
    "c_level": 7,
    "vp": 9,
    "director": 14,
    "manager": 20,
    "individual_contributor": 45,
    "intern": 5,
}
TINY_TITLES: Final = (
    ("Founder & CEO", "c_level", "executive"),
    ("Designer", "individual_contributor", "design"),
    ("Account Manager", "manager", "sales"),
)
SENIOR: Final = frozenset({"c_level", "vp", "director"})

SUBJECTS: Final = (
    "How Orbit-style teams cut follow-up time to minutes",
    "Your pipeline, one second after the signal",
    "Benchmark: reply rates by follow-up timing",
    "Quick question about your RevOps stack",
    "Case study: 31% more replies with signal-based follow-ups",
    "Invitation: streaming sales signals webinar",
    "Re: next steps after our call",
    "The 2-3 day follow-up rule, with data",
)
CAMPAIGNS: Final = (
    "cmp-q3-data-teams",
    "cmp-revops-benchmark",
    "cmp-webinar-sept",
    "cmp-post-demo",
    "cmp-fintech-outbound",
)
PAGES_HOT: Final = (
    ("/docs/getting-started", "Getting started | Relaywise Docs"),
    ("/docs/kafka-connector", "Kafka connector | Relaywise Docs"),
    ("/security", "Security & compliance | Relaywise"),
    ("/customers/quillstack", "How Quillstack doubled replies | Relaywise"),
    ("/customers/ferrowave", "Ferrowave's RevOps story | Relaywise"),
    ("/integrations/salesforce", "Salesforce integration | Relaywise"),
)
PAGES_CASUAL: Final = (
    ("/", "Relaywise: follow up the moment it matters"),
    ("/blog/follow-up-timing", "When to follow up, by the numbers | Relaywise"),
    ("/blog/job-changes", "Champions who move | Relaywise"),
    ("/docs", "Documentation | Relaywise"),
    ("/about", "About us | Relaywise"),
)
REFERRERS: Final = (
    "https://www.google.com/",
    "https://www.linkedin.com/",
    None,
    None,
    f"{SITE}/blog/follow-up-timing",
    "https://news.ycombinator.com/",
)
INVESTORS: Final = (
    "Northwind Ventures",
    "Bluegate Capital",
    "Harborlight Partners",
    "Foxglove Fund",
    "Silverline Growth",
    "Cinder Peak Capital",
    "Meridian Seed Co.",
    "Ironbark Ventures",
)
ROUNDS: Final = (
    ("Seed", 1_000_000, 4_000_000),
    ("Series A", 8_000_000, 20_000_000),
    ("Series B", 25_000_000, 60_000_000),
    ("Series C", 70_000_000, 150_000_000),
)

# Folds accented letters (and drops spaces) when a name becomes an email local part.
ASCII_FOLD: Final = str.maketrans(
    {
        "ü": "ue",
        "ö": "oe",
        "ä": "ae",
        "ß": "ss",
        "é": "e",
        "è": "e",
        "É": "E",
        "ç": "c",
        "í": "i",
        "á": "a",
        "ó": "o",
        "ñ": "n",
        "ï": "i",
        "ë": "e",
        "ê": "e",
        " ": "",
    }
)
