"""Pipeline steps, one module per DAG; each function is what one Airflow task does."""
