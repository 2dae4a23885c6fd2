"""The staffing advice as messages to admins who opt in: their preference, the staff in-app inbox, and
Zalo through the notification outbox (tables owned by staff: `staff_message_preferences`, `staff_messages`).

May import: common, staff, queue, notifications.
"""
