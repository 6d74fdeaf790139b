//! Stream CSV/TSV, Parquet, Arrow IPC/Feather and Excel/ODS files as Arrow record batches in bounded memory.
