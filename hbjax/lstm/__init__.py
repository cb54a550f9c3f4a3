"""The vectorised LSTM engine: model, grouping, engine, backend."""
