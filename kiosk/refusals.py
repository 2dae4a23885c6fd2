"""What the kiosk tells a patient when it cannot do what was asked, in Vietnamese and English."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "service_closed": ("Dịch vụ này hiện đã đóng. Vui lòng chọn dịch vụ khác hoặc đến quầy tiếp đón.",
                       "This service is closed now. Please choose another one or go to the reception desk."),
    "no_numbers_left": ("Không cấp được số, vui lòng đến quầy tiếp đón.",
                        "No number can be issued now, please go to the reception desk."),
    "unknown_appointment": ("Không tìm thấy lịch hẹn với mã này. Vui lòng kiểm tra lại mã hoặc đến quầy tiếp đón.",
                            "No booking was found with this code. Please check the code or go to the reception "
                            "desk."),
    "booking_offline": ("Mất kết nối với máy chủ nên chưa kiểm tra được lịch hẹn. Bạn có thể lấy số thường "
                        "hoặc đến quầy tiếp đón.",
                        "The kiosk cannot reach the server to check your booking. You can take an ordinary "
                        "number or go to the reception desk."),
    "invalid_cccd": ("Không đọc được thẻ CCCD, vui lòng thử lại.",
                     "Could not read the ID card, please try again."),
    "cccd_offline": ("Mất kết nối với máy chủ nên chưa tra cứu được thẻ. Bạn vẫn có thể lấy số thường.",
                     "The kiosk cannot reach the server to look up your card. You can still take an ordinary "
                     "number."),
    "unknown_code": ("Không nhận ra mã vừa quét. Hãy quét mã QR trên thẻ CCCD hoặc mã lịch hẹn.",
                     "This code was not recognised. Scan the QR code of your ID card or your booking code."),
    "invalid_typed": ("Vui lòng nhập số CCCD (12 chữ số) hoặc mã thẻ BHYT (15 ký tự) và ngày sinh dạng "
                      "ngày/tháng/năm.",
                      "Please type the CCCD number (12 digits) or the BHYT card code (15 characters) and the date "
                      "of birth as day/month/year."),
    "no_match": ("Không tìm thấy hồ sơ khớp với thông tin đã nhập. Vui lòng đến quầy tiếp đón.",
                 "No record matches what was entered. Please go to the reception desk."),
    "too_many_attempts": ("Đã nhập sai quá nhiều lần. Vui lòng đến quầy tiếp đón.",
                          "Too many wrong attempts. Please go to the reception desk."),
    "unknown_ticket": ("Không tìm thấy phiếu này trên máy.", "This ticket is not on this kiosk."),
    "not_ready": ("Máy đang kết nối với hệ thống, vui lòng chờ trong giây lát.",
                  "The kiosk is connecting to the system, please wait a moment."),
    "refused": ("Không cấp được số, vui lòng đến quầy tiếp đón.",
                "No number can be issued here, please go to the reception desk."),
}


class Refusal(Exception):
    """A request the kiosk turns down, with the message the page shows."""

    def __init__(self, code: str, status: int = 409, detail: str = "") -> None:
        vietnamese, english = MESSAGES.get(code, MESSAGES["refused"])
        super().__init__(f"{code}: {detail or english}")
        self.code, self.status, self.vi, self.en = code, status, vietnamese, english

    @classmethod
    def from_hub(cls, status: int, code: str, message: str) -> Refusal:
        """The hub's own words when it wrote them for patients ("Vietnamese / English"), else the generic one."""
        refusal = cls("refused", status if 400 <= status < 500 else 409, f"{code}: {message}")
        vietnamese, separator, english = message.partition(" / ")
        if separator and vietnamese.strip() and english.strip():
            refusal.code, refusal.vi, refusal.en = code, vietnamese.strip(), english.strip()
        return refusal

    def as_dict(self) -> dict[str, dict[str, str]]:
        """The error shape of the kiosk's local API (same envelope as the hub's)."""
        return {"error": {"code": self.code, "message": self.vi, "message_en": self.en}}
