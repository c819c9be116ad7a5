"""Complaints of citizens about an office, each tied to a receipt and confirmed by a one-time code sent by SMS to
the mobile the receipt was sent to; the regulator reviews them, and an upheld complaint of excess fee or cash becomes
a finding against the office."""
