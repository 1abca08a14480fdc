"""The seed's configuration module, kept importable: `config.arima_training_config`."""
