"""Images: URL keys (urls), download (fetcher), verification (verify), content-addressed storage (store), and the
run on the warehouse: register, plan, results, pipeline, summary (SQL in `newsetl.warehouse.images`)."""
