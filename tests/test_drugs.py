"""The prescription catalogue: searchable like ICD-10 (diacritics optional), over the API too."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config import ClinicConfig, Drug
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from tests.test_clinical import Clinic


def test_drug_search_by_name_ingredient_and_strength(sqlite_db: Database, clinic: ClinicConfig,
                                                     clock: VirtualClock) -> None:
    clinical = Clinic(sqlite_db, clinic, clock).clinical
    assert [d["code"] for d in clinical.drug_search("amox")] == ["amox-250-siro", "amox-500"]  # by name
    assert [d["code"] for d in clinical.drug_search("amox 250")] == ["amox-250-siro"]
    syrup = clinical.drug_search("amox 250")[0]
    assert (syrup["ingredient"], syrup["strength"], syrup["form"], syrup["unit"], syrup["route"]) == (
        "Amoxicilin", "250 mg/5 ml", "bột pha hỗn dịch uống", "chai", "uống")
    assert [d["code"] for d in clinical.drug_search("nho mat")] == ["natri-clorid-09-nho"]  # no diacritics
    assert clinical.drug_search("khong co thuoc nay") == [] and clinical.drug_search("  ") == []


def test_drugs_api(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> None:
    from hub.app import create_app
    from hub.core import build_hub
    from tests.test_clinical_api import Api

    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'drugs.db'}", clock=clock)
    try:
        api = Api(hub, create_app(hub, testing=True).test_client())
        assert [d["code"] for d in api.ok("GET", "/drugs?q=para")["drugs"]] == ["para-500"]
        assert api.call("GET", "/drugs?q=para", role="kiosk").status_code == 403
        assert api.ok("GET", "/drugs?q=" + "x" * 500)["drugs"] == []
    finally:
        hub.close()


def test_the_catalogue_tolerates_keys_of_other_areas() -> None:
    """Insurance adds its own keys (bhyt_code, insurance_price) to the same entries: the clinical loader keeps
    its fields and checks them as before."""
    entry = {"code": "para-500", "name": "Paracetamol 500 mg", "ingredient": "Paracetamol", "strength": "500 mg",
             "form": "viên nén", "unit": "viên", "route": "uống"}
    drug = Drug.model_validate({**entry, "bhyt_code": "40.17", "insurance_price": 350})
    assert drug.unit == "viên" and drug.route == "uống"
    with pytest.raises(ValidationError):
        Drug.model_validate({**entry, "route": "bay"})
