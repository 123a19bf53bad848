"""The books: chart of accounts, posting, credit notes, settlements, SIE and CSV exports."""
