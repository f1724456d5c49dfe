"""Files sent with a referral: accepted types by content, the size limit, private storage with a SHA-256,
upload on the form, the page and the API, and downloads only for the receiving desk and the referring
team, every one audited."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jiayi.audit.models import AuditEntry
from jiayi.referrals import fhir, files, services
from jiayi.referrals.models import Department, Referral, ReferralFile
from jiayi.registry.models import Resident, Staff
from tests.conftest import Personas

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def _draft(resident: Resident, doctor: Staff, department: Department) -> Referral:
    draft = services.UpReferralDraft(hospital=department.hospital, department=department, reason="胸痛")
    return services.do_create_up_referral(None, resident, doctor, draft)


def _stored(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


# What is accepted --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF, files.PDF),
        (JPEG, files.JPEG),
        (PNG, files.PNG),
        (HTML, None),
        (b"%PDF", None),  # a signature cut short proves nothing
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rJUNK", None),  # PNG signature without its IHDR chunk
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"", None),
    ],
)
def test_it_decides_the_type_by_the_first_bytes(head: bytes, expected: str | None) -> None:
    assert files.sniff(head[: files.SNIFF_BYTES]) == expected


@pytest.mark.parametrize(
    ("name", "content", "expected"), [("a.pdf", PDF, files.PDF), ("b.jpg", JPEG, files.JPEG)]
)
def test_it_records_the_proven_type_size_and_sha256(name: str, content: bytes, expected: str) -> None:
    checked = services.check_file(_upload(name, content, "text/plain"))
    assert checked.content_type == expected
    assert checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()


def test_it_refuses_an_html_page_named_pdf() -> None:
    with pytest.raises(services.ReferralValidationError) as refused:
        services.check_file(_upload("检查报告.pdf", HTML, "application/pdf"))
    [(field, message)] = refused.value.errors
    assert field == "file"
    assert "检查报告.pdf" in message
    assert "not a PDF, JPEG or PNG" in message


def test_it_refuses_a_file_over_the_size_limit_and_an_empty_one(settings: Any) -> None:
    settings.JIAYI_ATTACHMENT_MAX_MB = 1
    big = PDF + b"0" * (1024 * 1024)
    with pytest.raises(services.ReferralValidationError) as refused:
        services.check_files([_upload("big.pdf", big), _upload("empty.pdf", b"")], field="attachments")
    assert refused.value.errors == [
        ("attachments", f"big.pdf: larger than 1 MB ({len(big)} bytes)"),
        ("attachments", "empty.pdf: the file is empty"),
    ]
    assert services.check_file(_upload("fits.pdf", PDF + b"0" * (1024 * 1024 - len(PDF)))).size == 1024 * 1024


def test_it_keeps_only_the_base_of_an_uploaded_name() -> None:
    assert files.display_name("..\\..\\etc/passwd\x00.pdf") == "passwd.pdf"
    assert files.display_name("") == "attachment"


# Storage -----------------------------------------------------------------------------------------------


def test_it_stores_files_privately_under_random_names(
    doctor_staff: Staff, signed_resident: Resident, department: Department, attachment_dir: Path
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    rows = services.do_attach(
        None, referral, [_upload("心电图.pdf", PDF), _upload("x光.png", PNG, "image/png")]
    )
    stored = _stored(attachment_dir)
    assert len(stored) == 2
    for row, content in zip(rows, [PDF, PNG], strict=True):
        path = attachment_dir / row.file.name
        assert path.read_bytes() == content
        assert row.sha256 == hashlib.sha256(content).hexdigest()
        assert row.name not in row.file.name  # the stored name says nothing about the file
        assert len(Path(row.file.name).stem) >= 32
    assert [r.content_type for r in rows] == [files.PDF, files.PNG]
    assert Path(rows[1].file.name).suffix == ".png"
    entries = AuditEntry.objects.filter(resource_type="referral_file", action="create")
    assert sorted(int(e.resource_id) for e in entries) == sorted(r.pk for r in rows)
    assert {e.resident_id for e in entries} == {signed_resident.pk}
    with pytest.raises(NotImplementedError):
        files.attachment_storage().url(rows[0].file.name)


def test_it_stores_all_files_or_none(
    doctor_staff: Staff, signed_resident: Resident, department: Department, attachment_dir: Path
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    with pytest.raises(services.ReferralValidationError) as refused:
        services.do_attach(None, referral, [_upload("ok.pdf", PDF), _upload("fake.pdf", HTML)])
    assert [name for name, _message in refused.value.errors] == ["file"]
    assert not ReferralFile.objects.exists()
    assert _stored(attachment_dir) == []


def test_it_deletes_stored_bytes_when_the_write_fails(
    doctor_staff: Staff,
    signed_resident: Resident,
    department: Department,
    attachment_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)

    def broken_audit(**_kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(services, "record", broken_audit)
    with pytest.raises(RuntimeError):
        services.do_attach(None, referral, [_upload("ok.pdf", PDF)])
    assert not ReferralFile.objects.exists()
    assert _stored(attachment_dir) == []


def test_it_refuses_files_on_a_closed_referral_and_beyond_the_count(
    doctor_staff: Staff, signed_resident: Resident, department: Department
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    many = [_upload(f"{i}.pdf", PDF) for i in range(files.MAX_FILES_PER_REFERRAL + 1)]
    with pytest.raises(services.ReferralValidationError, match="at most 10 files"):
        services.do_attach(None, referral, many)
    services.do_cancel_referral(None, referral)
    with pytest.raises(services.ReferralStateError):
        services.do_attach(None, referral, [_upload("late.pdf", PDF)])


# Pages -------------------------------------------------------------------------------------------------


def test_the_doctor_attaches_files_on_the_referral_form(
    personas: Personas, signed_resident: Resident, department: Department
) -> None:
    client = _client(personas.doctor)
    form = {"department": department.pk, "urgency": "routine", "request_kind": "visit", "reason": "复查"}
    refused = client.post(
        f"/referrals/new/{signed_resident.pk}/",
        {**form, "draft": "1", "attachments": _upload("报告.pdf", HTML)},
    )
    assert refused.status_code == 422
    assert "报告.pdf: not a PDF, JPEG or PNG file" in refused.content.decode()
    assert not Referral.objects.filter(resident=signed_resident).exists()

    saved = client.post(
        f"/referrals/new/{signed_resident.pk}/",
        {**form, "draft": "1", "attachments": _upload("报告.pdf", PDF)},
    )
    assert saved.status_code == 302
    referral = Referral.objects.get(resident=signed_resident)
    [row] = referral.files.all()
    assert (row.name, row.content_type) == ("报告.pdf", files.PDF)
    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert f"/referrals/files/{row.pk}/" in page
    assert 'id="attach-form"' in page


def test_the_doctor_adds_a_file_on_the_referral_page(
    personas: Personas, doctor_staff: Staff, signed_resident: Resident, department: Department
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    client = _client(personas.doctor)
    added = client.post(
        f"/referrals/{referral.pk}/attach/", {"attachments": _upload("ct.jpg", JPEG, "image/jpeg")}
    )
    assert added.status_code == 302
    assert referral.files.get().content_type == files.JPEG
    missing = client.post(f"/referrals/{referral.pk}/attach/", {})
    assert missing.status_code == 422
    assert "choose a PDF, JPEG or PNG file" in missing.content.decode()
    # The desk cannot add files to someone else's referral.
    services.do_send(None, referral)
    assert _client(personas.desk).post(f"/referrals/{referral.pk}/attach/", {}).status_code == 404


def test_only_the_desk_and_the_referring_team_download(
    personas: Personas, doctor_staff: Staff, signed_resident: Resident, department: Department
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    [row] = services.do_attach(None, referral, [_upload("心电图.pdf", PDF)])
    url = f"/referrals/files/{row.pk}/"
    # A draft is the doctor's own: the desk does not see it yet.
    assert _client(personas.desk).get(url).status_code == 404
    services.do_send(None, referral)
    for persona in ("doctor", "nurse", "desk"):
        response = _client(getattr(personas, persona)).get(url)
        assert response.status_code == 200, persona
        assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
        assert response["Content-Type"] == files.PDF
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["Cache-Control"] == "no-store"
    for persona in ("manager", "other_doctor", "resident", "cdc", "analyst", "admin"):
        assert _client(getattr(personas, persona)).get(url).status_code == 404, persona
    assert _client(personas.desk).get("/referrals/files/999999999/").status_code == 404
    reads = AuditEntry.objects.filter(resource_type="referral_file", action="read", resource_id=str(row.pk))
    assert reads.filter(outcome="ok").count() == 3
    assert {e.resident_id for e in reads.filter(outcome="ok")} == {signed_resident.pk}
    # The manager and the other doctor reach the guarded view and are refused there; the others are
    # turned away by the page guard, audited as a denied referral read.
    assert reads.filter(outcome="denied").count() == 3
    desk_page = _client(personas.desk).get("/referrals/desk/").content.decode()
    assert url in desk_page
    manager_page = _client(personas.manager).get(f"/referrals/{referral.pk}/").content.decode()
    assert url not in manager_page


def test_the_desk_page_lists_the_files(
    personas: Personas, doctor_staff: Staff, signed_resident: Resident, department: Department
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    [row] = services.do_attach(None, referral, [_upload("片子.png", PNG, "image/png")])
    services.do_send(None, referral)
    page = _client(personas.desk).get("/referrals/desk/").content.decode()
    assert "片子.png" in page
    assert f"/referrals/files/{row.pk}/" in page


# API ---------------------------------------------------------------------------------------------------


def test_the_api_takes_multipart_uploads_and_serves_them_back(
    personas: Personas, doctor_staff: Staff, signed_resident: Resident, department: Department
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    doctor = _client(personas.doctor)
    url = f"/api/referrals/referrals/{referral.pk}/files"
    created = doctor.post(url, {"file": [_upload("a.pdf", PDF), _upload("b.png", PNG, "image/png")]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert [(f["name"], f["content_type"], f["size"]) for f in body] == [
        ("a.pdf", files.PDF, len(PDF)),
        ("b.png", files.PNG, len(PNG)),
    ]
    assert body[0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert [f["id"] for f in doctor.get(url).json()] == [f["id"] for f in body]
    download = doctor.get(f"/api/referrals/files/{body[1]['id']}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG  # type: ignore[attr-defined]
    assert download["Content-Type"] == files.PNG

    refused = doctor.post(url, {"file": _upload("fake.pdf", HTML)})
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["field"] == "file"
    assert "fake.pdf" in problem["message"]
    assert doctor.post(url, {}).json()["detail"] == [
        {"field": "file", "message": "choose a PDF, JPEG or PNG file"}
    ]
    # Outside the referring doctor's reach the referral does not exist.
    for persona in ("other_doctor", "manager", "desk"):
        assert (
            _client(getattr(personas, persona)).post(url, {"file": _upload("c.pdf", PDF)}).status_code == 404
        )
    assert _client(personas.manager).get(url).status_code == 404
    assert _client(personas.manager).get(f"/api/referrals/files/{body[0]['id']}").status_code == 404
    assert ReferralFile.objects.count() == 2


def test_the_fhir_export_names_the_files_the_reader_may_read(
    personas: Personas, doctor_staff: Staff, signed_resident: Resident, department: Department
) -> None:
    referral = _draft(signed_resident, doctor_staff, department)
    [row] = services.do_attach(None, referral, [_upload("心电图.pdf", PDF)])
    services.do_send(None, referral)
    bundle = _client(personas.desk).get(f"/api/referrals/referrals/{referral.pk}/fhir").json()
    resources = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    document = resources["DocumentReference"]
    assert resources["ServiceRequest"]["supportingInfo"] == [
        {"reference": f"DocumentReference/referral-file-{row.pk}"}
    ]
    attachment = document["content"][0]["attachment"]
    assert attachment["contentType"] == files.PDF
    assert attachment["url"] == f"/api/referrals/files/{row.pk}"
    assert attachment["size"] == len(PDF)
    assert attachment["extension"] == [{"url": fhir.SHA256_EXTENSION, "valueString": row.sha256}]
    assert document["subject"]["identifier"]["value"] == str(signed_resident.pk)
    manager_bundle = _client(personas.manager).get(f"/api/referrals/referrals/{referral.pk}/fhir").json()
    kinds = [e["resource"]["resourceType"] for e in manager_bundle["entry"]]
    assert "DocumentReference" not in kinds
    assert "supportingInfo" not in manager_bundle["entry"][0]["resource"]
