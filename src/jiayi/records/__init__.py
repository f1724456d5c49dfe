"""Health accounts (健康档案): one lifelong record per resident, fed by FHIR R4 bundles."""
