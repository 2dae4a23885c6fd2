"""What the console says after each action, in both languages: the page and the terminal share it."""

from __future__ import annotations

ACTION_TEXTS: dict[str, tuple[str, str]] = {
    "ok_next": ("Đã gọi số {number}.", "Called {number}."),
    "ok_empty": ("Không còn ai đang chờ.", "Nobody is waiting."),
    "ok_recall": ("Đã gọi lại số {number} (lần {count}).", "Recalled {number} (call {count})."),
    "ok_start": ("Bắt đầu phục vụ số {number}.", "Serving {number}."),
    "ok_finish": ("Đã hoàn thành số {number}.", "Finished {number}."),
    "ok_no_show": ("Số {number} vắng mặt.", "{number} marked no-show."),
    "ok_transfer": ("Đã chuyển sang {service}: số mới {number}.", "Transferred to {service}: new ticket {number}."),
    "ok_pause": ("Quầy tạm nghỉ.", "Counter paused."),
    "ok_resume": ("Quầy làm việc trở lại.", "Counter resumed."),
    "ok_call": ("Đã gọi số {number} (ngoài thứ tự).", "Called {number} (out of turn)."),
    "ok_return": ("Số {number} đã trở lại hàng chờ.", "{number} is back in line."),
    "refused": ("Không thực hiện được", "Refused"),
    "unreachable": ("Không kết nối được máy chủ. Thao tác chưa được thực hiện.",
                    "Cannot reach the hub. Nothing was done."),
    "no_no_shows": ("Hôm nay chưa có ai vắng mặt.", "No no-shows today."),
    "not_in_no_shows": ("Số {number} không có trong danh sách vắng mặt hôm nay.",
                        "{number} is not among today's no-shows."),
}
