"""The server's CapabilityStatement (`GET /fhir/metadata`): what the read-only FHIR API answers."""

from datetime import date

from tiemchung.health.fhir.resources import Resource

FHIR_VERSION = "4.0.1"
SEARCH_PARAMETERS = {
    "Patient": [("identifier", "token", "Số CCCD/CMND, hộ chiếu hoặc mã đối tượng (system|value hoặc value)"),
                ("_id", "token", "Mã đối tượng trong hệ thống")],
    "Immunization": [("patient", "reference", "Patient/{id}: các mũi tiêm của một người")],
    "Organization": [],
}  # fmt: skip


def capability_statement(base_url: str, software_version: str) -> Resource:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date.today().isoformat(),
        "publisher": "tiemchung",
        "kind": "instance",
        "software": {"name": "tiemchung", "version": software_version},
        "implementation": {"description": "Dữ liệu tiêm chủng COVID-19 (chỉ đọc)", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Đăng nhập bằng tài khoản của nền tảng (cookie phiên); dữ liệu theo địa bàn.",
                "security": {"description": "Phiên đăng nhập của nền tảng; mọi lần đọc được ghi nhật ký kiểm toán."},
                "resource": [_resource(kind, parameters) for kind, parameters in SEARCH_PARAMETERS.items()],
                "operation": [
                    {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
                    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"},
                ],
            }
        ],
    }


def _resource(kind: str, parameters: list[tuple[str, str, str]]) -> Resource:
    return {
        "type": kind,
        "interaction": [{"code": "read"}] + ([{"code": "search-type"}] if parameters else []),
        "searchParam": [
            {"name": name, "type": kind_of_parameter, "documentation": text}
            for name, kind_of_parameter, text in parameters
        ],
    }
