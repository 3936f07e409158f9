/** @module `mcp-bridge completion bash|zsh|fish`: shell completion scripts generated from the command table. */
import type { OptionSpec } from "./args.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
// A cycle (index.ts lists this command), harmless because COMMANDS is only read when run() runs.
import { COMMANDS } from "./index.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

interface OptionView {
  long: string;
  short?: string;
  description: string;
  takesValue: boolean;
  takesFile: boolean;
}

/** Every command's options as the shells see them, with the --help that runCli adds to all. */
function optionsOf(command: Command): OptionView[] {
  const specs: Array<[string, OptionSpec]> = [...Object.entries(command.options), ["help", { type: "boolean", alias: "h", description: "Show help" }]];
  return specs.map(([long, spec]) => ({
    long,
    ...(spec.alias !== undefined && { short: spec.alias }),
    description: spec.description,
    takesValue: spec.type === "string",
    takesFile: spec.type === "string" && (spec.value ?? "").includes("FILE"),
  }));
}

/** Fixed positional words: only `completion` has any. */
function positionalsOf(command: Command): readonly string[] {
  return command.name === "completion" ? SHELLS : [];
}

const flags = (options: OptionView[], pick: (option: OptionView) => boolean) =>
  options.filter(pick).flatMap((option) => [`--${option.long}`, ...(option.short ? [`-${option.short}`] : [])]).join(" ");

function bashScript(commands: readonly Command[]): string {
  const names = commands.map((command) => command.name).join(" ");
  const cases = commands.map((command) => {
    const options = optionsOf(command);
    return [
      `    ${command.name})`,
      `      opts="${flags(options, () => true)}${command.name === "run" ? " --version -V" : ""}"`,
      `      files="${flags(options, (option) => option.takesFile)}"`,
      `      values="${flags(options, (option) => option.takesValue && !option.takesFile)}"`,
      `      words="${positionalsOf(command).join(" ")}" ;;`,
    ].join("\n");
  });
  return `# bash completion for mcp-bridge; load with: source <(mcp-bridge completion bash)
_mcp_bridge() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local command=run opts files values words
  case " ${names} " in
    *" \${COMP_WORDS[1]} "*) [ "$COMP_CWORD" -gt 1 ] && command=\${COMP_WORDS[1]} ;;
  esac
  if [ "$COMP_CWORD" -eq 1 ] && [[ $cur != -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${names} help" -- "$cur")
    return
  fi
  case $command in
${cases.join("\n")}
  esac
  case " $files " in
    *" $prev "*) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
  esac
  case " $values " in
    *" $prev "*) return ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  fi
}
complete -F _mcp_bridge mcp-bridge
`;
}

const zshQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const zshBrackets = (text: string) => text.replace(/([[\]\\])/g, "\\$1");

function zshScript(commands: readonly Command[]): string {
  const described = commands.map((command) => zshQuote(`${command.name}:${command.summary}`)).join("\n    ");
  const cases = commands.map((command) => {
    const specs = optionsOf(command).map((option) => {
      const action = option.takesValue ? `:${option.long}:${option.takesFile ? "_files" : " "}` : "";
      const description = `[${zshBrackets(option.description)}]${action}`;
      return option.short
        ? `'(-${option.short} --${option.long})'{-${option.short},--${option.long}}${zshQuote(description)}`
        : zshQuote(`--${option.long}${description}`);
    });
    const positionals = positionalsOf(command);
    if (positionals.length > 0) specs.push(zshQuote(`1:shell:(${positionals.join(" ")})`));
    return `    ${command.name}) _arguments -s \\\n      ${specs.join(" \\\n      ")} ;;`;
  });
  return `#compdef mcp-bridge
# zsh completion for mcp-bridge; install with: mcp-bridge completion zsh > "\${fpath[1]}/_mcp-bridge"
_mcp_bridge() {
  local -a commands
  commands=(
    ${described}
  )
  if (( CURRENT == 2 )) && [[ $words[2] != -* ]]; then
    _describe -t commands 'mcp-bridge command' commands
    return
  fi
  local command=run
  case $words[2] in
    ${commands.map((command) => command.name).join("|")}) command=$words[2]; shift words; (( CURRENT-- )) ;;
  esac
  case $command in
${cases.join("\n")}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _mcp_bridge "$@"
else
  compdef _mcp_bridge mcp-bridge
fi
`;
}

const fishQuote = (text: string) => `'${text.replace(/[\\']/g, "\\$&")}'`;

function fishScript(commands: readonly Command[]): string {
  const lines = [
    "# fish completion for mcp-bridge; install with: mcp-bridge completion fish > ~/.config/fish/completions/mcp-bridge.fish",
    "complete -c mcp-bridge -f",
    "complete -c mcp-bridge -n __fish_use_subcommand -s V -l version -d 'Print the version'",
  ];
  for (const command of commands) {
    lines.push(`complete -c mcp-bridge -n __fish_use_subcommand -a ${command.name} -d ${fishQuote(command.summary)}`);
    // Without a command mcp-bridge runs `run`, so its options are offered before any command too.
    const condition = command.name === "run" ? `'__fish_use_subcommand; or __fish_seen_subcommand_from run'` : `'__fish_seen_subcommand_from ${command.name}'`;
    for (const option of optionsOf(command)) {
      const short = option.short ? ` -s ${option.short}` : "";
      const value = option.takesFile ? " -r -F" : option.takesValue ? " -x" : "";
      lines.push(`complete -c mcp-bridge -n ${condition}${short} -l ${option.long}${value} -d ${fishQuote(option.description)}`);
    }
    const positionals = positionalsOf(command);
    if (positionals.length > 0) lines.push(`complete -c mcp-bridge -n ${condition} -a ${fishQuote(positionals.join(" "))}`);
  }
  return lines.join("\n") + "\n";
}

export function completionScript(shell: Shell, commands: readonly Command[]): string {
  return shell === "bash" ? bashScript(commands) : shell === "zsh" ? zshScript(commands) : fishScript(commands);
}

export const completionCommand: Command = {
  name: "completion",
  summary: "Print a shell completion script (bash, zsh or fish)",
  usage: "completion bash|zsh|fish",
  positionals: 1,
  options: {},
  examples: [
    "source <(mcp-bridge completion bash)",
    "mcp-bridge completion bash > ~/.local/share/bash-completion/completions/mcp-bridge",
    'mcp-bridge completion zsh > "${fpath[1]}/_mcp-bridge"',
    "mcp-bridge completion fish > ~/.config/fish/completions/mcp-bridge.fish",
  ],
  async run(args, platform) {
    const [shell] = args.positionals;
    if (shell === undefined || !SHELLS.includes(shell as Shell)) {
      throw new UsageError(`expected one shell: ${SHELLS.join(", ")}${shell === undefined ? "" : ` (got "${args.positionals.join(" ")}")`}`);
    }
    platform.writeStdout(completionScript(shell as Shell, COMMANDS));
    return 0;
  },
};
