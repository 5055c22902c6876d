"""HL7 FHIR R4 for immunizations: the registry's people, doses and facilities as the field exchanges them.

`resources` maps registry rows to validated resources, `export` writes the Bulk Data NDJSON files, and the read
API lives in `tiemchung.health.web.routes.fhir` (docs/fhir.md).
"""

from tiemchung.health.fhir.resources import immunization, organization, patient, searchset, validated

__all__ = ["immunization", "organization", "patient", "searchset", "validated"]
