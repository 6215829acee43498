import { Command } from 'commander';
import { registerBackfill } from './backfill.command';
import { registerCdnDeadLetters } from './cdn-dead-letters.command';
import { registerDeadLetters } from './dead-letters.command';
import { registerExplain } from './explain.command';
import { registerReplay } from './replay.command';
import { registerRun } from './run.command';
import { registerValidate } from './validate.command';

/** Every CLI command, once. Adding a command = a file in this folder and one line here. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [registerRun, registerValidate, registerExplain, registerCdnDeadLetters, registerDeadLetters, registerReplay, registerBackfill];
