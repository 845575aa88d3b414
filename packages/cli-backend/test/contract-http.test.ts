import { createKuboClient } from '@tk/rpc'
import { defineContract } from './contract.js'

defineContract('http', node => createKuboClient({ apiUrl: node.apiUrl }))
