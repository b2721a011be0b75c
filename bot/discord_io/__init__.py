"""Discord plumbing every concern shares: the first answer to an interaction, failed calls, errors,
permissions, safe text, buttons."""
