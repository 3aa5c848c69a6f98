//! Export (数据导出): see `App::export_customers`.
