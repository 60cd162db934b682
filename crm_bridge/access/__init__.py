"""Access to constituents' data: who may see which enquiry (``policy``) and the audit trail
of who did (``audit``)."""
