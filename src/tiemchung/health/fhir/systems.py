"""The code systems and identifier namespaces of the FHIR exchange (see docs/fhir.md).

The vaccine codes are HL7's own systems: CVX (CDC's vaccine-administered codes, the system immunization registries
exchange) and the EU DCC value set of medicinal products, which the certificates already carry. Viet Nam has no
registered FHIR namespace for its ID numbers or its administrative-unit codes yet, so the platform names its own
under `BASE`; a ministry that registers official ones changes them here only.
"""

from tiemchung.identity.ids import IdKind
from tiemchung.reference.vaccines import Vaccine

BASE = "https://fhir.tiemchung.vn"
CVX = "http://hl7.org/fhir/sid/cvx"
EU_DCC_PRODUCT = "https://ec.europa.eu/health/documents/community-register/html/"
SUBJECT_KEY = f"{BASE}/sid/subject-key"  # the submitting facility's key for the person (interchange `subject_id`)
FACILITY = f"{BASE}/sid/facility"
GSO_UNIT = f"{BASE}/CodeSystem/gso-administrative-unit"  # the General Statistics Office's unit codes
VERIFICATION = f"{BASE}/CodeSystem/population-register-verification"
VERIFICATION_REASON = f"{BASE}/CodeSystem/population-register-reason"
VERIFICATION_EXTENSION = f"{BASE}/StructureDefinition/population-register-verification"
ADDRESS_UNIT_EXTENSION = f"{BASE}/StructureDefinition/gso-administrative-unit"
ISO_COUNTRY = "urn:iso:std:iso:3166"
NATIONALITY_EXTENSION = "http://hl7.org/fhir/StructureDefinition/patient-nationality"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

# The identifier namespace and the HL7 v2 identifier type of each kind of ID number.
ID_SYSTEMS = {
    IdKind.CCCD: (f"{BASE}/sid/cccd", "NI", "Căn cước công dân"),
    IdKind.CMND: (f"{BASE}/sid/cmnd", "NI", "Chứng minh nhân dân"),
    IdKind.PASSPORT: (f"{BASE}/sid/passport", "PPN", "Hộ chiếu"),
}

# CVX for each vaccine licensed in Viet Nam. Hayat-Vax is Sinopharm's BBIBP-CorV made under licence in the UAE, so it
# takes BBIBP-CorV's code; CVX has no code of its own for Abdala, which takes "non-US vaccine, product unknown".
CVX_BY_VACCINE = {
    "AstraZeneca": ("210", "COVID-19 vaccine, vector-nr, rS-ChAdOx1, PF, 0.5 mL"),
    "Sputnik V": ("505", "COVID-19 VVnr Non-US Vaccine (Sputnik V)"),
    "Vero Cell": ("510", "COVID-19 IV Non-US Vaccine (BIBP, Sinopharm)"),
    "Hayat-Vax": ("510", "COVID-19 IV Non-US Vaccine (BIBP, Sinopharm)"),
    "Pfizer": ("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose"),
    "Moderna": ("207", "COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5 mL dose"),
    "Janssen": ("212", "COVID-19 vaccine, vector-nr, rS-Ad26, PF, 0.5 mL"),
    "Abdala": ("500", "COVID-19 Non-US Vaccine, Product Unknown"),
}


def vaccine_codings(vaccine: Vaccine) -> list[dict[str, str]]:
    """The vaccine as CVX and as the EU DCC medicinal product, with the name people know it by."""
    cvx_code, cvx_display = CVX_BY_VACCINE[vaccine.key]
    return [
        {"system": CVX, "code": cvx_code, "display": cvx_display},
        {"system": EU_DCC_PRODUCT, "code": vaccine.medicinal_product, "display": vaccine.name_vi},
    ]
