"""Field-level encryption at rest (E4): ID numbers, phones and diagnosis text are stored as ciphertext.

See docs/adr/004-field-encryption.md for the design and docs/security.md for key handling.
"""
