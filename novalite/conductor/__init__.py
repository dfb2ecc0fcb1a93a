"""The conductor: builds (scheduler, then compute) and object persistence
for services that have no database access."""
