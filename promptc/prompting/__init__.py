"""The program, the prompt it becomes, and reading the reply."""
