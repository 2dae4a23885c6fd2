"""Staff accounts (argon2id passwords, roles, counter assignment) and API tokens with roles.

May import: common.
"""
