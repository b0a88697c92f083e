"""Publication outputs: the annual recruitment tables with disclosure control, their
CSV / spreadsheet export, and the plain-language drop-out summary.

Only aggregate, suppressed figures leave the database through this package.
"""
