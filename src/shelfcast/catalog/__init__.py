"""Reading and validating sales data, the sample catalogue, weekly series and title selection."""
