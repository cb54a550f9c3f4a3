"""The engine every model trains on: rung plans, compiled programs, dispatch, states."""
