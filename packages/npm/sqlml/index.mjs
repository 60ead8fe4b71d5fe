import sqlml from './index.js';

export const { getLoadablePath, load, version } = sqlml;
export default sqlml;
