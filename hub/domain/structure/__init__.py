"""The clinic's structure as admins change it while the hub runs: services, counters and rooms,
priority classes and their weights, boards, opening hours, closed weekdays and holidays, calling rules.

config/ files seed it on a new site; after that the database holds it (one versioned document), every
hub process checks the version cheaply and applies a newer one, and every change is audited with its
before and after. The configuration in force is a `LiveConfig`, which every service reads.

May import: common.
"""
