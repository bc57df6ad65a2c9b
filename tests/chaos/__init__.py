"""The fault-injection suite (`make chaos`): a load of claims while every component is killed."""
