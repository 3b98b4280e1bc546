"""Bank statements as Cashline reads them, whatever format the bank sent (camt.05x, MT940/942, CSV)."""
