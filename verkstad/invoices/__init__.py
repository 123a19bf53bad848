"""Invoices, credit notes and receipts as PDF, OCR/KID references, printing."""
