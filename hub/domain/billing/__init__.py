"""Bills from visit items, deposits, payments through providers (cash, card, e-wallet, VietQR),
refunds, voids, gap-free invoices.

May import: common, patients, queue, booking, clinical.
"""
