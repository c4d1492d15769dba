"""Cost: a price catalogue, the pricing rules that turn what a task used into money, and what is built on
them (the ledger on run records, estimates, budgets, the cost policy). See docs/cost.md."""
