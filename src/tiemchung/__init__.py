"""tiemchung: the open platform for a country's COVID-19 vaccination data."""
