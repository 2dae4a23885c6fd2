"""The patient portal's side: sign-in, sessions and lockout, what a signed-in patient may read and
do, self-registration.

May import: common, patients, queue, booking, clinical, billing, notifications, follow_ups.
"""
