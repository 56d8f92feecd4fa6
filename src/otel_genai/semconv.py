"""Every attribute, metric and event name otel-genai emits, and the shapes of its agent / tool / workflow spans.

The GenAI semantic conventions moved out of the core semantic-conventions repository (v1.42) and the Python package's
``opentelemetry.semconv._incubating`` GenAI constants are deprecated (and older releases lack many of them), so the
names are defined here, once, from the conventions' current text. Our own names (``otel_genai.*``) sit beside them.
"""

from __future__ import annotations

from typing import Any

# -- GenAI attributes (semantic conventions, gen-ai registry) ----------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"  # included in output_tokens
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"

# -- general attributes the GenAI spans use ---------------------------------------------------------------------
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
SESSION_ID = "session.id"
USER_ID = "user.id"

# -- GenAI metrics and events -----------------------------------------------------------------------------------
GEN_AI_CLIENT_OPERATION_DURATION = "gen_ai.client.operation.duration"
GEN_AI_CLIENT_TOKEN_USAGE = "gen_ai.client.token.usage"
GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS = "gen_ai.client.inference.operation.details"  # the content event

# -- otel-genai's own attributes --------------------------------------------------------------------------------
OUTCOME = "otel_genai.outcome"  # how a streamed / awaited result ended: lifecycle.Outcome
STREAM_ITEMS = "otel_genai.stream.items"  # items a stream handed to its consumer
SPAN_TYPE = "otel_genai.span.type"  # workflow / task / agent / tool, and the agents SDK's span types
INPUT = "otel_genai.input"  # a decorated function's arguments (content capture on), as JSON
OUTPUT = "otel_genai.output"  # its result
METADATA_PREFIX = "otel_genai.metadata."  # + key: using_attributes(metadata=...)
TAGS = "otel_genai.tags"  # using_attributes(tags=...)
AGENT_NAME = "otel_genai.agent.name"  # the agent a turn belongs to (agents SDK)
HANDOFF_FROM_AGENT = "otel_genai.handoff.from_agent"
HANDOFF_TO_AGENT = "otel_genai.handoff.to_agent"
GUARDRAIL_TRIGGERED = "otel_genai.guardrail.triggered"
LANGCHAIN_RUN_ID = "otel_genai.langchain.run_id"  # the LangChain run a span stands for
LANGCHAIN_RUN_TYPE = "otel_genai.langchain.run_type"  # chain / llm / chat_model / tool / retriever
LANGGRAPH_NODE = "otel_genai.langgraph.node"  # the LangGraph node a span stands for
LANGGRAPH_STEP = "otel_genai.langgraph.step"  # the superstep it ran in
LANGGRAPH_TRIGGERS = "otel_genai.langgraph.triggers"  # the channels that triggered it
LANGGRAPH_PATH = "otel_genai.langgraph.path"  # its task path
CHECKPOINT_SAVER = "otel_genai.checkpoint.saver"  # a LangGraph checkpointer's class
CHECKPOINT_OPERATION = "otel_genai.checkpoint.operation"  # get_tuple / list / put / put_writes (a-prefixed: async)

# -- operation names and span shapes ----------------------------------------------------------------------------
CHAT = "chat"
GENERATE_CONTENT = "generate_content"
EMBEDDINGS = "embeddings"
INVOKE_AGENT = "invoke_agent"
INVOKE_WORKFLOW = "invoke_workflow"
EXECUTE_TOOL = "execute_tool"
RETRIEVAL = "retrieval"
TEXT_COMPLETION = "text_completion"


def span_name(operation: str, target: Any) -> str:
    """``{operation} {target}`` (``chat gpt-4o``, ``invoke_agent weather``), or the operation alone."""
    return f"{operation} {target}" if target else operation


def workflow_span(name: str) -> tuple[str, dict[str, Any]]:
    """Name and attributes of an ``invoke_workflow`` span."""
    return span_name(INVOKE_WORKFLOW, name), {
        SPAN_TYPE: "workflow",
        GEN_AI_OPERATION_NAME: INVOKE_WORKFLOW,
        GEN_AI_WORKFLOW_NAME: name,
    }


def agent_span(name: str, agent_id: Any = None) -> tuple[str, dict[str, Any]]:
    """Name and attributes of an ``invoke_agent`` span."""
    attributes: dict[str, Any] = {SPAN_TYPE: "agent", GEN_AI_OPERATION_NAME: INVOKE_AGENT, GEN_AI_AGENT_NAME: name}
    if agent_id:
        attributes[GEN_AI_AGENT_ID] = str(agent_id)
    return span_name(INVOKE_AGENT, name), attributes


def tool_span(name: str, call_id: Any = None) -> tuple[str, dict[str, Any]]:
    """Name and attributes of an ``execute_tool`` span (a function tool)."""
    attributes: dict[str, Any] = {
        SPAN_TYPE: "tool",
        GEN_AI_OPERATION_NAME: EXECUTE_TOOL,
        GEN_AI_TOOL_NAME: name,
        GEN_AI_TOOL_TYPE: "function",
    }
    if call_id:
        attributes[GEN_AI_TOOL_CALL_ID] = str(call_id)
    return span_name(EXECUTE_TOOL, name), attributes
