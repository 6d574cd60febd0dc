"""Static reference data of the synthetic retailer: countries, cities, names, categories.

Everything here is plain tuples so that iteration order is fixed and the generator stays
deterministic. E-mail domains are reserved example domains (RFC 2606 / RFC 6761), so no
generated address can belong to a real mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass

REPORTING_CURRENCY = "EUR"


@dataclass(frozen=True)
class City:
    name: str
    region: str
    postal_prefixes: tuple[str, ...]
    weight: float
    has_store: bool


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    currency: str
    names: str  # key into NAMES
    phone_prefix: str
    postal_format: str  # see _persons.postal_codes
    cities: tuple[City, ...]


COUNTRIES: tuple[Country, ...] = (
    Country("DE", 0.42, "EUR", "de", "+49", "ddddd", (
        City("Berlin", "Berlin", ("10", "12", "13"), 0.16, True),
        City("Hamburg", "Hamburg", ("20", "21", "22"), 0.09, True),
        City("München", "Bayern", ("80", "81"), 0.08, True),
        City("Köln", "Nordrhein-Westfalen", ("50", "51"), 0.06, True),
        City("Frankfurt am Main", "Hessen", ("60",), 0.05, True),
        City("Stuttgart", "Baden-Württemberg", ("70",), 0.04, True),
        City("Düsseldorf", "Nordrhein-Westfalen", ("40",), 0.04, True),
        City("Leipzig", "Sachsen", ("04",), 0.04, True),
        City("Dresden", "Sachsen", ("01",), 0.03, False),
        City("Hannover", "Niedersachsen", ("30",), 0.03, True),
        City("Nürnberg", "Bayern", ("90",), 0.03, False),
        City("Bremen", "Bremen", ("28",), 0.03, False),
        City("Münster", "Nordrhein-Westfalen", ("48",), 0.02, False),
        City("Freiburg im Breisgau", "Baden-Württemberg", ("79",), 0.02, False),
        City("Rostock", "Mecklenburg-Vorpommern", ("18",), 0.02, False),
        City("Mainz", "Rheinland-Pfalz", ("55",), 0.02, False),
        City("Kiel", "Schleswig-Holstein", ("24",), 0.02, False),
        City("Erfurt", "Thüringen", ("99",), 0.02, False),
        City("Magdeburg", "Sachsen-Anhalt", ("39",), 0.02, False),
        City("Saarbrücken", "Saarland", ("66",), 0.01, False),
        City("Potsdam", "Brandenburg", ("14",), 0.02, False),
        City("Bielefeld", "Nordrhein-Westfalen", ("33",), 0.02, False),
        City("Augsburg", "Bayern", ("86",), 0.02, False),
        City("Kassel", "Hessen", ("34",), 0.01, False),
    )),
    Country("AT", 0.09, "EUR", "de", "+43", "dddd", (
        City("Wien", "Wien", ("10", "11", "12"), 0.45, True),
        City("Graz", "Steiermark", ("80",), 0.18, True),
        City("Linz", "Oberösterreich", ("40",), 0.15, False),
        City("Salzburg", "Salzburg", ("50",), 0.12, True),
        City("Innsbruck", "Tirol", ("60",), 0.10, False),
    )),
    Country("CH", 0.07, "CHF", "de", "+41", "dddd", (
        City("Zürich", "Zürich", ("80",), 0.35, True),
        City("Basel", "Basel-Stadt", ("40",), 0.20, True),
        City("Bern", "Bern", ("30",), 0.18, False),
        City("Genève", "Genève", ("12",), 0.15, False),
        City("Lausanne", "Vaud", ("10",), 0.12, False),
    )),
    Country("NL", 0.09, "EUR", "nl", "+31", "dddd LL", (
        City("Amsterdam", "Noord-Holland", ("10",), 0.35, True),
        City("Rotterdam", "Zuid-Holland", ("30",), 0.22, True),
        City("Den Haag", "Zuid-Holland", ("25",), 0.17, False),
        City("Utrecht", "Utrecht", ("35",), 0.15, True),
        City("Eindhoven", "Noord-Brabant", ("56",), 0.11, False),
    )),
    Country("FR", 0.08, "EUR", "fr", "+33", "ddddd", (
        City("Paris", "Île-de-France", ("750",), 0.40, True),
        City("Lyon", "Auvergne-Rhône-Alpes", ("690",), 0.18, False),
        City("Marseille", "Provence-Alpes-Côte d'Azur", ("130",), 0.14, False),
        City("Toulouse", "Occitanie", ("310",), 0.10, False),
        City("Lille", "Hauts-de-France", ("590",), 0.09, False),
        City("Strasbourg", "Grand Est", ("670",), 0.09, False),
    )),
    Country("GB", 0.06, "GBP", "en", "+44", "uk", (
        City("London", "England", ("E", "N", "SW", "W", "SE"), 0.45, False),
        City("Manchester", "England", ("M",), 0.15, False),
        City("Birmingham", "England", ("B",), 0.14, False),
        City("Leeds", "England", ("LS",), 0.10, False),
        City("Glasgow", "Scotland", ("G",), 0.09, False),
        City("Bristol", "England", ("BS",), 0.07, False),
    )),
    Country("PL", 0.05, "PLN", "pl", "+48", "dd-ddd", (
        City("Warszawa", "Mazowieckie", ("00", "01", "02", "03", "04"), 0.35, True),
        City("Kraków", "Małopolskie", ("30", "31"), 0.22, False),
        City("Wrocław", "Dolnośląskie", ("50", "51", "53", "54"), 0.17, False),
        City("Poznań", "Wielkopolskie", ("60", "61"), 0.14, False),
        City("Gdańsk", "Pomorskie", ("80",), 0.12, False),
    )),
    Country("SE", 0.04, "SEK", "sv", "+46", "ddd dd", (
        City("Stockholm", "Stockholms län", ("11", "12"), 0.50, False),
        City("Göteborg", "Västra Götalands län", ("41",), 0.30, False),
        City("Malmö", "Skåne län", ("21",), 0.20, False),
    )),
    Country("BE", 0.03, "EUR", "nl", "+32", "dddd", (
        City("Bruxelles", "Bruxelles-Capitale", ("10",), 0.40, False),
        City("Antwerpen", "Antwerpen", ("20",), 0.35, False),
        City("Gent", "Oost-Vlaanderen", ("90",), 0.25, False),
    )),
    Country("DK", 0.02, "DKK", "sv", "+45", "dddd", (
        City("København", "Hovedstaden", ("1", "2"), 0.65, False),
        City("Aarhus", "Midtjylland", ("80",), 0.35, False),
    )),
)

# EUR per one unit of the currency at the start of every history; the fx random walk
# wanders around these levels.
FX_LEVELS: tuple[tuple[str, float], ...] = (
    ("CHF", 1.04),
    ("GBP", 1.17),
    ("PLN", 0.232),
    ("SEK", 0.088),
    ("DKK", 0.134),
)

NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # language: (female first names, male first names, last names)
    "de": (
        ("Anna", "Lena", "Julia", "Laura", "Sarah", "Katharina", "Lisa", "Sophie", "Marie",
         "Hannah", "Sabine", "Petra", "Claudia", "Monika", "Ursula", "Jana", "Emma", "Mia",
         "Lea", "Birgit", "Andrea", "Susanne", "Franziska", "Jülide", "Zeynep"),
        ("Lukas", "Jonas", "Felix", "Maximilian", "Paul", "Leon", "Tobias", "Michael", "Thomas",
         "Andreas", "Stefan", "Jürgen", "Klaus", "Wolfgang", "Peter", "Jan", "Niklas", "Finn",
         "Ben", "Markus", "Christian", "Sebastian", "Alexander", "Mehmet", "Björn"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
         "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
         "Hartmann", "Lange", "Werner", "Krause", "Meier", "Lehmann", "Huber", "Yılmaz",
         "Kaya", "Nowak", "Gruber", "Brunner", "Keller"),
    ),
    "nl": (
        ("Emma", "Sophie", "Julia", "Anna", "Lotte", "Eva", "Sanne", "Femke", "Lisa", "Anouk",
         "Fleur", "Iris", "Marieke", "Noor", "Sara"),
        ("Daan", "Sem", "Lucas", "Bram", "Thijs", "Jesse", "Ruben", "Lars", "Tim", "Jeroen",
         "Pieter", "Sander", "Koen", "Niels", "Bas"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
         "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
         "Hendriks", "Dekker", "Peeters", "Maes"),
    ),
    "fr": (
        ("Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Louise",
         "Claire", "Élodie", "Amélie", "Margaux", "Céline", "Zoé"),
        ("Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Thomas", "Nicolas", "Antoine",
         "Julien", "Mathieu", "Pierre", "François", "Théo", "Karim"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
         "Leroy", "Moreau", "Simon", "Laurent", "Lefèbvre", "Michel", "Garcia", "Fournier",
         "Girard", "Bonnet", "Dupont", "Lambert"),
    ),
    "en": (
        ("Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Charlotte", "Jessica",
         "Lucy", "Hannah", "Chloe", "Ella", "Megan", "Priya"),
        ("Oliver", "George", "Harry", "Jack", "Charlie", "Thomas", "James", "William", "Daniel",
         "Samuel", "Joseph", "Matthew", "Ryan", "Liam", "Arjun"),
        ("Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson",
         "Thomas", "Johnson", "Roberts", "Walker", "Wright", "Robinson", "Thompson", "White",
         "Hughes", "Edwards", "Green", "Patel"),
    ),
    "pl": (
        ("Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Zofia", "Julia", "Zuzanna",
         "Magdalena", "Joanna", "Aleksandra", "Natalia", "Ewa", "Monika", "Karolina"),
        ("Piotr", "Krzysztof", "Tomasz", "Paweł", "Michał", "Jakub", "Jan", "Antoni",
         "Łukasz", "Marcin", "Kamil", "Mateusz", "Adam", "Wojciech", "Szymon"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
         "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski",
         "Mazur", "Kwiatkowski"),
    ),
    "sv": (
        ("Alice", "Maja", "Elsa", "Astrid", "Wilma", "Ebba", "Freja", "Ida", "Karin", "Ingrid",
         "Sofia", "Linnea", "Signe", "Mette", "Frida"),
        ("Lars", "Erik", "Oscar", "William", "Hugo", "Lucas", "Anders", "Johan", "Magnus",
         "Nils", "Karl", "Mads", "Søren", "Emil", "Axel"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
         "Persson", "Svensson", "Gustafsson", "Jensen", "Nielsen", "Hansen", "Pedersen",
         "Lindqvist"),
    ),
}

STREETS: dict[str, tuple[str, ...]] = {
    "de": ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Lindenallee",
           "Bergstraße", "Am Markt", "Kirchweg", "Rosenweg", "Goethestraße", "Schillerstraße",
           "Mozartgasse", "Birkenweg", "Feldstraße", "Waldstraße"),
    "nl": ("Kerkstraat", "Molenweg", "Dorpsstraat", "Stationsweg", "Schoolstraat",
           "Julianalaan", "Beatrixstraat", "Prinsengracht", "Wilhelminastraat", "Veldweg"),
    "fr": ("Rue de la Paix", "Rue Victor Hugo", "Avenue Jean Jaurès", "Rue Pasteur",
           "Boulevard Voltaire", "Rue de la République", "Place de la Mairie", "Rue du Moulin"),
    "en": ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue",
           "Mill Lane", "King Street", "Queens Road", "Green Lane", "Manor Road"),
    "pl": ("ul. Polna", "ul. Leśna", "ul. Słoneczna", "ul. Krótka", "ul. Szkolna",
           "ul. Ogrodowa", "ul. Lipowa", "ul. Kościuszki", "ul. Mickiewicza"),
    "sv": ("Storgatan", "Kyrkogatan", "Skolgatan", "Nygatan", "Parkvägen", "Strandvägen",
           "Østergade", "Vestergade", "Algade"),
}

# Reserved example domains only; the first ones are the big "free mail" providers.
EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com", "example.net", "example.org", "mail.example", "post.example",
    "inbox.example",
)

# Shop categories: (code, name, typical unit price in EUR)
CATEGORIES: tuple[tuple[str, str, float], ...] = (
    ("FAS", "fashion", 39.0),
    ("SHO", "shoes", 79.0),
    ("ACC", "accessories", 24.0),
    ("HOM", "home", 34.0),
    ("BEA", "beauty", 16.0),
    ("ELE", "electronics", 119.0),
    ("SPO", "sports", 45.0),
    ("KID", "kids", 22.0),
)

PROSPECT_SOURCES: tuple[tuple[str, float], ...] = (
    ("newsletter", 0.34),
    ("lead_form", 0.20),
    ("paid_social", 0.19),
    ("event", 0.10),
    ("referral", 0.09),
    ("sweepstakes", 0.08),
)

TRANSLITERATION: dict[str, str] = {
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ë": "e", "ê": "e",
    "à": "a", "â": "a", "ç": "c", "î": "i", "ï": "i", "ô": "o", "û": "u", "ù": "u",
    "ł": "l", "ą": "a", "ę": "e", "ś": "s", "ć": "c", "ń": "n", "ó": "o", "ż": "z", "ź": "z",
    "å": "a", "ø": "oe", "æ": "ae", "ı": "i", " ": "", "'": "",
}
