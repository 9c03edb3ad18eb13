"""Tests of the TDS (SQL Server) backend and of the TDS test server they run against."""
