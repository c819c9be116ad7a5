"""Agency settlement statements, PSP daily files, and the reconciliation of what was collected with what was
settled. The file formats and the rules are described in docs/reconciliation.md."""
