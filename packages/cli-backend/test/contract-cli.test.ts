import { createKuboClient } from '@tk/rpc'
import { cliTransport } from '../src/index.js'
import { defineContract } from './contract.js'

defineContract('cli', node =>
  createKuboClient({
    transport: cliTransport({ binary: node.binary, api: node.apiMultiaddr, repoPath: node.repoPath })
  })
)
