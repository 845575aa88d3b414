import { defineContract } from './contract.js'
import { cliClientOf } from './helpers.js'

defineContract('cli', node => cliClientOf(node))
