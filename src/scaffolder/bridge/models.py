"""Request and response bodies, declared so that ``/openapi.json`` documents real shapes.

They follow Backstage's scaffolder OpenAPI contract; fields it leaves open stay open
(``extra="allow"``, ``dict[str, Any]``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaskStatus = Literal["open", "processing", "completed", "failed", "cancelled", "skipped"]
EventType = Literal["log", "completion", "cancelled", "recovered"]


class ErrorDetail(BaseModel):
    name: str
    message: str


class RequestInfo(BaseModel):
    method: str
    url: str


class ResponseInfo(BaseModel):
    statusCode: int


class ErrorResponse(BaseModel):
    """Backstage's error body."""

    model_config = ConfigDict(extra="allow")

    error: ErrorDetail
    request: RequestInfo | None = None
    response: ResponseInfo


class ValidationProblem(BaseModel):
    """One failing field, in the shape of the ``jsonschema`` npm package's ``ValidationError``."""

    model_config = ConfigDict(extra="allow")

    path: list[str | int]
    property: str
    message: str
    schema_: dict[str, Any] | str = Field(alias="schema")
    instance: dict[str, Any]
    name: str
    argument: bool | float | str | dict[str, Any]
    stack: str


class ValidationErrors(BaseModel):
    errors: list[ValidationProblem]


class ActionExample(BaseModel):
    description: str
    example: str


class ActionSchema(BaseModel):
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)


class Action(BaseModel):
    id: str
    description: str | None = None
    examples: list[ActionExample] = Field(default_factory=list)
    schema_: ActionSchema | None = Field(default=None, alias="schema")


class ParameterStep(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")


class TemplateParameterSchema(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str
    description: str | None = None
    steps: list[ParameterStep]


class ScaffoldRequest(BaseModel):
    templateRef: str = Field(min_length=1, max_length=512)
    values: dict[str, Any]
    secrets: dict[str, str] | None = None


class TaskCreated(BaseModel):
    id: str


class SerializedTask(BaseModel):
    id: str
    spec: dict[str, Any]
    status: TaskStatus
    createdAt: str
    lastHeartbeatAt: str | None = None
    createdBy: str | None = None


class ListTasksResponse(BaseModel):
    tasks: list[SerializedTask]
    totalTasks: int


class CancelResponse(BaseModel):
    status: TaskStatus


class RetryRequest(BaseModel):
    secrets: dict[str, str] | None = None


class SerializedTaskEvent(BaseModel):
    id: int
    taskId: str
    type: EventType
    body: dict[str, Any]
    createdAt: str


class DirectoryFile(BaseModel):
    path: str = Field(min_length=1, max_length=4096)
    base64Content: str
    executable: bool | None = None
    symlink: bool | None = None


class DryRunRequest(BaseModel):
    template: dict[str, Any]
    values: dict[str, Any]
    secrets: dict[str, str] | None = None
    directoryContents: list[DirectoryFile]


class LogEntry(BaseModel):
    body: dict[str, Any]


class DryRunFile(BaseModel):
    path: str
    base64Content: str
    content: str
    executable: bool


class DryRunStep(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    action: str


class DryRunResult(BaseModel):
    log: list[LogEntry]
    directoryContents: list[DryRunFile]
    output: dict[str, Any]
    steps: list[DryRunStep]


class ActionRunRequest(BaseModel):
    input: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] | None = None
    dryRun: bool = False


class ActionRunResult(BaseModel):
    output: dict[str, Any]
    log: list[LogEntry]


class Health(BaseModel):
    status: Literal["ok"]
