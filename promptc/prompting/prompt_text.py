"""The texts of the requests optimizers send to a prompt or reflection model.

A leaf module: the optimizers write their requests from these, and the fake models
(promptc/lm/fake.py) read requests by them, without either importing the other.
"""

from __future__ import annotations

# What every instruction request ends with; parse_instruction reads the reply after "instruction:".
REPLY_FORMAT = "Reply in exactly this format:\ninstruction: <the new instruction>"
PROPOSER = (
    "You write instructions for a language model. Propose one new instruction for the task below: "
    "what the model should look at in the inputs and how to decide the outputs, in a few sentences. "
    + REPLY_FORMAT
)

# The sections of a request's user message, joined by SECTION_BREAK.
SECTION_BREAK = "\n\n"
TASK = "Task: "
CURRENT_INSTRUCTION = "Current instruction:\n"
NO_INSTRUCTION = "(none)"
INPUTS_HEADER = "Inputs:\n"
OUTPUTS_HEADER = "Outputs:\n"
DATA_SUMMARY_HEADER = "Data summary:\n"
EXAMPLES_HEADER = "Examples:\n"  # labeled training examples, one block each, blocks apart by SECTION_BREAK
TIP_PREFIX = "Tip: "  # mipro's tip, the last section

# gepa's reflection and merge prompts (with the shared sections above).
REFLECTOR = (
    "You improve the instruction of a language model from its mistakes. Rewrite the instruction "
    "so that the model gets examples like the ones below right, and keeps what already works: "
    "name the cues in the inputs that decide each output, in a few sentences. Do not copy the "
    "examples. " + REPLY_FORMAT
)
MERGER = (
    "You improve the instruction of a language model. Two instructions each get different "
    "examples right. Rewrite the instruction: combine what both of them teach into one, in a "
    "few sentences. " + REPLY_FORMAT
)
MISTAKES_HEADER = "Mistakes:\n"
MISTAKE = "Example {n} (score {score:.2f}):\n"  # then the user turn, MODEL_ANSWER, answer, FEEDBACK
MODEL_ANSWER = "\nModel answer:\n"
FEEDBACK = "\nFeedback: "
INSTRUCTION_A = "Instruction A:\n"
INSTRUCTION_B = "Instruction B:\n"
