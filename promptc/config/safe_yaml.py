"""Read a YAML config safely: no alias bombs, no self-referencing aliases, no duplicate keys."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from promptc.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_VALUES = 100_000  # after aliases are expanded; a real config has a few hundred


def _node_error(path: Path, node: yaml.Node, message: str, fix: str) -> ConfigError:
    mark = node.start_mark
    return ConfigError(f"{path}: line {mark.line + 1}, column {mark.column + 1}: {message}", fix=fix)


def check_yaml_nodes(root: yaml.Node, path: Path) -> None:
    """Refuse duplicate keys, self-referencing aliases, and aliases that expand past MAX_CONFIG_VALUES."""
    sizes: dict[int, int] = {}  # node id -> the number of values it expands to
    keys: dict[int, str] = {id(root): ""}  # node id -> the key path it was first reached by
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children = _children(node)
        if done:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_CONFIG_VALUES:
                raise _node_error(
                    path,
                    root,
                    f"the config expands to more than {MAX_CONFIG_VALUES:,} values (YAML aliases)",
                    fix="write the config out without nested &anchor / *alias repetition",
                )
            continue
        if id(node) in sizes:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(node, keys[id(node)], path)
        for label, child in _labelled_children(node):
            where = f"{keys[id(node)]}.{label}".lstrip(".")
            if id(child) in on_path:
                raise ConfigError(
                    f"{path}: {where}: an alias refers to a value that contains it", fix="remove the *alias"
                )
            keys.setdefault(id(child), where)
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    return [child for _, child in _labelled_children(node)]


def _labelled_children(node: yaml.Node) -> list[tuple[str, yaml.Node]]:
    if isinstance(node, yaml.SequenceNode):
        return [(str(i), child) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[str, yaml.Node]] = []
        for key, value in node.value:
            label = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            out += [(label, key), (label, value)]
        return out
    return []


def _check_duplicate_keys(node: yaml.MappingNode, where: str, path: Path) -> None:
    seen: set[tuple[str, str]] = set()
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        if (key.tag, key.value) in seen:
            name = f"{where}.{key.value}".lstrip(".")
            raise _node_error(
                path,
                key,
                f"duplicate key {name}",
                fix=f"keep one {key.value}: under {where or 'the top level'}",
            )
        seen.add((key.tag, key.value))


def _parse_yaml(text: str, path: Path) -> Any:
    """YAML to Python values with the safe loader, after check_yaml_nodes has passed the document."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_yaml_nodes(node, path)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: Path) -> Any:
    """The Python values of a YAML config file; every problem is a ConfigError naming the file."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a directory, or a FIFO that would block the read
            raise ConfigError(f"{path}: not a regular file", fix="pass the path of a YAML config file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found", fix="pass the path of a YAML config") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read config ({exc.strerror or exc})", fix="pass the path of a readable YAML file"
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: {len(data):,} bytes is too large for a config (at most {MAX_CONFIG_BYTES:,})",
            fix="pass the YAML config, not a data file; data files go under data:",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            fix="save the config as UTF-8 text (is it the YAML config, or a binary file?)",
        ) from None
    try:
        return _parse_yaml(text, path)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{path}: not valid YAML{where}: {problem}", fix="fix the YAML syntax there"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: the YAML is nested too deeply", fix="flatten the config") from None
