"""The health side: the Ministry of Health's registry of subjects and doses, and everything built on it.

registry (subjects, doses, imports), verification (the client of the register service, its queue and the stored
answers), cleaning (the seeds' correction workflow), certificates (EU DCC), reconciliation (the seeds' reports),
duplicates (one person, one history), fhir (the registry as FHIR R4) and web (pages and JSON API).

It talks to the register only through `tiemchung.interchange` and the register service's HTTP API: nothing here
imports `tiemchung.register` (an import-linter contract checks it).
"""
