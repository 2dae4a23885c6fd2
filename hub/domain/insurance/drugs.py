"""The insurance side of the drug catalogue (config/drugs.toml): what a claim's XML2 line needs.

The clinical fields of an entry (name, strength, unit...) belong to hub.config.Drug; this module reads only
the BHYT keys of the same entries (bhyt_code, registration_no, insurance_price, bhyt_covered, bhyt_rate),
so the two areas share one file without one checking the other's keys.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DRUGS_FILE = "drugs.toml"


class DrugInsurance(BaseModel):
    """One catalogue drug as the insurer sees it; missing fields mean the drug cannot be claimed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    name: str
    bhyt_code: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    registration_no: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    insurance_price: Annotated[int, Field(ge=0)] | None = None
    bhyt_covered: bool = False
    bhyt_rate: Annotated[int, Field(ge=0, le=100)] = 100
    # TT_THAU (Chuỗi(50)): "decision;package;group;year", e.g. "125/QĐ-BV;G1;N4;2025".
    tender: Annotated[str, Field(pattern=r"^[^;]{1,30};G\d{1,2};N\d{1,2};\d{4}$", max_length=50)] | None = None

    @property
    def claimable(self) -> bool:
        return (self.bhyt_covered and self.bhyt_code is not None and self.registration_no is not None
                and self.insurance_price is not None and self.insurance_price > 0 and self.bhyt_rate > 0
                and self.tender is not None)


class DrugCatalogueError(ValueError):
    pass


def load_drug_insurance(config_dir: Path | str) -> dict[str, DrugInsurance]:
    """The catalogue's insurance fields by drug code; empty when the site has no drugs.toml."""
    path = Path(config_dir) / DRUGS_FILE
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        drugs = [DrugInsurance.model_validate(entry) for entry in raw.get("drugs", [])]
    except tomllib.TOMLDecodeError as exc:
        raise DrugCatalogueError(f"{path}: {exc}") from None
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise DrugCatalogueError(f"{path}:\n  " + "\n  ".join(problems)) from None
    return {drug.code: drug for drug in drugs}


# Why a prescription line is not in XML2 (the claims page shows these).
NOT_IN_CATALOGUE, NOT_COVERED, NO_INSURANCE_DATA = "not_in_catalogue", "not_covered", "no_insurance_data"
LEFT_OUT = {
    NOT_IN_CATALOGUE: "Thuốc ghi tay, không có trong danh mục thuốc: không đề nghị BHYT thanh toán / a drug "
                      "written by hand, not in the catalogue: not claimed",
    NOT_COVERED: "Thuốc ngoài danh mục BHYT, người bệnh tự trả / not covered by insurance: the patient pays",
    NO_INSURANCE_DATA: "Danh mục thuốc thiếu mã BHYT, số đăng ký, giá BHYT hoặc thông tin thầu / the catalogue "
                       "lacks the drug's BHYT code, registration number, insurance price or tender",
}


@dataclass(frozen=True)
class DrugClaimLine:
    """A prescription line the fund is asked to pay for: priced from the catalogue's insurance price."""

    drug: DrugInsurance
    name: str
    unit: str
    strength: str
    form: str  # DANG_BAO_CHE
    route: str  # as prescribed ("uống"): DUONG_DUNG once mapped to its code
    dose: str
    instructions: str
    quantity: int
    amount: int  # quantity × insurance price: what the hospital charges for it (THANH_TIEN_BV)
    insured_base: int  # amount × bhyt_rate % (THANH_TIEN_BH)
    days: int | None = None  # as prescribed: part of LIEU_DUNG


def claim_lines(lines: list[object], catalogue: dict[str, DrugInsurance]) -> tuple[list[DrugClaimLine],
                                                                                  list[dict[str, str]]]:
    """Prescription lines (hub.domain.clinical.prescriptions.PrescriptionLine) split into the ones to claim
    and the ones left out, each with why."""
    claimed: list[DrugClaimLine] = []
    left_out: list[dict[str, str]] = []
    for line in lines:
        code, name = getattr(line, "drug_code", None), str(getattr(line, "name", ""))
        quantity = int(getattr(line, "quantity", 0) or 0)
        drug = catalogue.get(code) if code else None
        if drug is None:
            reason = NOT_IN_CATALOGUE
        elif not drug.bhyt_covered:
            reason = NOT_COVERED
        elif not drug.claimable or quantity <= 0:
            reason = NO_INSURANCE_DATA
        else:
            reason = None
        if reason is not None or drug is None:
            reason = reason or NOT_IN_CATALOGUE
            left_out.append({"name": name[:200], "reason": reason, "message": LEFT_OUT[reason]})
            continue
        amount = quantity * (drug.insurance_price or 0)
        claimed.append(DrugClaimLine(drug, name, str(getattr(line, "unit", "")), str(getattr(line, "strength", "")),
                                     str(getattr(line, "form", "")), str(getattr(line, "route", "")),
                                     str(getattr(line, "dose", "")), str(getattr(line, "instructions", "")),
                                     quantity, amount, amount * drug.bhyt_rate // 100,
                                     days=getattr(line, "days", None)))
    return claimed, left_out
