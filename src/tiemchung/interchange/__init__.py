"""What the two sides exchange, and nothing else: the verdict vocabulary and result columns (`results`), and the
files people hand over, read the same way on both sides (`sources`, `columns`, `xlsx_stream`: CSV, Parquet and the
spec's Excel workbooks). It imports only `identity` and `reference`."""
