import BatonModel

/// Baton's built-in commands for Exchange 2013, 2016, 2019 and Subscription Edition on Windows
/// Server 2012 R2 to 2025, reached through the OpenSSH server Windows ships. Each is
/// PowerShell run on the server itself, with the Exchange Management Shell's snap-in and the
/// scripts Exchange installs under `$env:ExchangeInstallPath\Scripts`. The package media is
/// expected under `C:\Baton\packages\PACKAGE` (the CU's extracted ISO with its Setup.exe, or
/// the SU's .msp), saved configuration under `C:\Baton\config`. Every command's success is
/// read from the server (exit codes, component states, the ExSetup.exe file version), never
/// assumed. Review these before production: docs/remote.md lists them.
enum ExchangePowerShell {
    /// Loads the Exchange Management Shell's cmdlets into the session.
    static let shell = "Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn -ErrorAction Stop"

    /// The media's own setup (never a bare setup.exe, which can be the installed copy: rule
    /// `mx-cu-run-dot-setup`) and the licence switch that build's setup takes: the
    /// `_DiagnosticDataON`/`_DiagnosticDataOFF` forms came with Exchange 2016 CU22 (15.1.2375)
    /// and 2019 CU11 (15.2.986) (Microsoft Learn, "Use unattended Setup mode in Exchange
    /// Server"); earlier setups, and every Exchange 2013 setup, take the plain switch. Chosen by
    /// the package's build (`{{build}}`), not its product: a custom package of an older CU
    /// gets the switch its setup knows.
    static let setup = #"""
        $setup = 'C:\Baton\packages\{{package}}\Setup.exe'
        if (-not (Test-Path $setup)) { "no media: $setup is missing"; exit 2 }
        $media = if ('{{build}}' -ne '') { [version]'{{build}}' } else { [version]'0.0' }
        $diagnosticData = ($media.Minor -eq 1 -and $media.Build -ge 2375) -or ($media.Minor -eq 2 -and $media.Build -ge 986)
        $license = if ($diagnosticData) { '/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF' } else { '/IAcceptExchangeServerLicenseTerms' }
        """#

    /// The database copies configured with a replay lag (`ReplayLagTimes` of each database,
    /// "[SERVER, 7.00:00:00]"), by copy name (`DB01\\MBX2`): a lagged copy holds its replay
    /// queue by design (Microsoft Learn, "Manage mailbox database copies", ReplayLagTime).
    static let lagged = #"""
        $lagged = @{}
        foreach ($database in Get-MailboxDatabase -ErrorAction Stop) {
            foreach ($entry in $database.ReplayLagTimes) {
                if ("$entry" -match '^\[([^,]+), (.+)\]$' -and $Matches[2] -ne '00:00:00') { $lagged["$($database.Name)\$($Matches[1])"] = $true }
            }
        }
        """#

    /// A copy that is not ready: not Healthy or Mounted, a copy queue over 10, a replay queue
    /// over 100 (but on a lagged copy), its content index unhealthy.
    static let unhealthy =
        "$_.Status -notin 'Healthy','Mounted' -or $_.CopyQueueLength -gt 10 -or ($_.ReplayQueueLength -gt 100 -and -not $lagged[$_.Name]) -or $_.ContentIndexState -notin 'Healthy','NotApplicable'"

    static let commands: [String: String] = [
        // Microsoft Learn, "Manage database availability groups" (performing maintenance on DAG
        // members): HubTransport Draining, and on Exchange 2013 and 2016, whose Unified
        // Messaging 2019 removed, UMCallRouter Draining.
        "drain-transport": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component HubTransport -State Draining -Requester Maintenance
        if ('{{product}}' -in 'exchange-2013','exchange-2016') { Set-ServerComponentState $env:COMPUTERNAME -Component UMCallRouter -State Draining -Requester Maintenance }
        Restart-Service MSExchangeTransport -ErrorAction Stop
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component HubTransport).State -ne 'Draining') { exit 1 }
        """,
        "start-dag-maintenance": """
        \(shell)
        $script = Join-Path $env:ExchangeInstallPath 'Scripts\\StartDagServerMaintenance.ps1'
        $parameters = @{ ServerName = $env:COMPUTERNAME; MoveComment = 'Maintenance' }
        if ('{{product}}' -ne 'exchange-2013') { $parameters.PauseClusterNode = $true }
        if ('{{override}}' -eq 'true') { $parameters.overrideMinimumTwoCopies = $true }
        & $script @parameters
        $policy = (Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy
        if ($policy -ne 'Blocked') { "activation is $policy after StartDagServerMaintenance.ps1, not Blocked"; exit 1 }
        $active = Get-MailboxDatabaseCopyStatus -Server $env:COMPUTERNAME | Where-Object { $_.Status -eq 'Mounted' }
        if ($active) { "still mounted here: " + (($active | ForEach-Object { $_.DatabaseName }) -join ', ') }
        """,
        // Redirect-Message takes the target's FQDN (Microsoft Learn, Redirect-Message); then the
        // queues drain before setup: only Shadow and Poison queues may keep messages ("Manage
        // database availability groups"), within 15 minutes.
        "redirect-messages": #"""
        \#(shell)
        $target = (Get-ExchangeServer '{{to}}' -ErrorAction Stop).Fqdn
        Redirect-Message -Server $env:COMPUTERNAME -Target $target -Confirm:$false -ErrorAction Stop
        $deadline = (Get-Date).AddMinutes(15)
        do {
            $left = @(Get-Queue -Server $env:COMPUTERNAME -ErrorAction Stop | Where-Object { $_.MessageCount -gt 0 -and $_.DeliveryType -notin 'ShadowRedundancy','Undefined' -and $_.Identity -notlike '*\Poison' })
            if ($left.Count -eq 0) { "redirected to $target; the queues are drained"; exit 0 }
            Start-Sleep -Seconds 15
        } while ((Get-Date) -lt $deadline)
        "the queues did not drain within 15 minutes: " + (($left | ForEach-Object { "$($_.Identity) $($_.MessageCount)" }) -join ', ')
        exit 1
        """#,
        "server-offline": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Inactive -Requester Maintenance
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Inactive') { exit 1 }
        """,
        "server-online": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Active -Requester Maintenance
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Active') { exit 1 }
        """,
        "stop-dag-maintenance": """
        \(shell)
        & (Join-Path $env:ExchangeInstallPath 'Scripts\\StopDagServerMaintenance.ps1') -ServerName $env:COMPUTERNAME
        $policy = (Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy
        if ($policy -eq 'Blocked') { "activation is still Blocked after StopDagServerMaintenance.ps1"; exit 1 }
        """,
        "resume-transport": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component HubTransport -State Active -Requester Maintenance
        if ('{{product}}' -in 'exchange-2013','exchange-2016') { Set-ServerComponentState $env:COMPUTERNAME -Component UMCallRouter -State Active -Requester Maintenance }
        Restart-Service MSExchangeTransport -ErrorAction Stop
        $inactive = Get-ServerComponentState $env:COMPUTERNAME | Where-Object { $_.State -ne 'Active' -and $_.Component -notin 'ForwardSyncDaemon','ProvisioningRps' }
        if ($inactive) { "components not Active: " + (($inactive | ForEach-Object { $_.Component }) -join ', '); exit 1 }
        """,
        "check-copies": """
        \(shell)
        $servers = (Get-DatabaseAvailabilityGroup '{{dag}}' -ErrorAction Stop).Servers
        \(lagged)
        $bad = $servers | ForEach-Object { Get-MailboxDatabaseCopyStatus -Server $_ } | Where-Object { \(unhealthy) }
        if ($bad) { $bad | ForEach-Object { "$($_.Name): $($_.Status), copy queue $($_.CopyQueueLength), replay queue $($_.ReplayQueueLength)$(if ($lagged[$_.Name]) { ' (lagged copy)' }), index $($_.ContentIndexState)" }; exit 1 }
        "every copy of {{dag}} is healthy"
        """,
        // Rule mx-dotnet-first: the .NET Framework offline installer from the host's
        // prerequisites folder, quiet and without its own restart (Microsoft Learn, ".NET
        // Framework deployment guide for administrators": /q /norestart; 0 done, 1641 and 3010
        // done once restarted); the plan restarts next. Skipped when the Release value already
        // reaches the version (CSS-Exchange, Shared/Get-NETFrameworkVersion.ps1).
        "install-dotnet": #"""
        $installers = @{ '4.8' = 'ndp48-x86-x64-allos-enu.exe'; '4.8.1' = 'ndp481-x86-x64-allos-enu.exe' }
        $installer = Join-Path '{{prerequisites}}' $installers['{{dotnet}}']
        $release = (Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' -ErrorAction SilentlyContinue).Release
        if ($release -ge [int]'{{dotnet-release}}') { ".NET Framework {{dotnet}} or later is installed (release $release)"; exit 0 }
        if (-not (Test-Path -LiteralPath $installer)) { "no installer: $installer is missing"; exit 2 }
        $process = Start-Process -FilePath $installer -ArgumentList '/q','/norestart' -Wait -PassThru
        if ($process.ExitCode -notin 0,1641,3010) { "the .NET Framework installer exited with $($process.ExitCode)"; exit 1 }
        ".NET Framework {{dotnet}} installed (exit $($process.ExitCode)); the restart finishes it"
        """#,
        // Rule mx-healthchecker-pre-post: CSS-Exchange's HealthChecker.ps1 where the inventory
        // says it is, its results exported as XML (Features/Invoke-HealthCheckerMainReport.ps1:
        // HealthChecker-SERVER-*.xml, DisplayResults by section, each line with Name,
        // DisplayValue, WriteType and TestingValue). What stops an update fails the step: a
        // pending restart ("Server Pending Reboot", TestingValue true) and a component left
        // inactive ("Component", Red). HealthChecker shows a .NET Framework other than the
        // recommended one in yellow only; probe-prerequisites is what checks it.
        "health-check": #"""
        $script = '{{health-checker}}'
        if (-not (Test-Path -LiteralPath $script)) { "HealthChecker.ps1 is not at $script"; exit 2 }
        $out = Join-Path $env:TEMP 'baton-health-{{run}}-{{step}}'
        New-Item -ItemType Directory -Force -Path $out | Out-Null
        & $script -Server $env:COMPUTERNAME -OutputFilePath $out -SkipVersionCheck *> $null
        $xml = Get-ChildItem -Path $out -Filter 'HealthChecker-*.xml' | Sort-Object LastWriteTime | Select-Object -Last 1
        if (-not $xml) { "HealthChecker wrote no results to $out"; exit 1 }
        $results = Import-Clixml -Path $xml.FullName
        $found = foreach ($section in $results.DisplayResults.Keys) {
            foreach ($line in $results.DisplayResults[$section]) {
                $pending = $line.Name -eq 'Server Pending Reboot' -and $line.TestingValue -eq $true
                $red = $line.WriteType -eq 'Red' -and $line.Name -eq 'Component'
                if ($pending -or $red) { "$($line.Name): $($line.DisplayValue)" }
            }
        }
        if ($found) { "HealthChecker on {{host}}: " + ($found -join '; '); exit 1 }
        "HealthChecker finds no pending restart and no inactive component on {{host}}"
        """#,
        // Rule mx-edge-maint: the Edge subscription synchronizes again (Microsoft Learn,
        // Test-EdgeSynchronization, run on a Mailbox server; its SyncStatus is Normal when
        // Active Directory and the Edge server's AD LDS agree).
        "check-edge-sync": """
        \(shell)
        $results = @(Test-EdgeSynchronization -TargetServer '{{edge}}' -ExcludeRecipientTest -ErrorAction Stop)
        $bad = @($results | Where-Object { "$($_.SyncStatus)" -ne 'Normal' })
        if ($results.Count -eq 0 -or $bad) { "EdgeSync with {{edge}} is not current: " + (($results | ForEach-Object { "$($_.Name) $($_.SyncStatus) $($_.FailureDetail)" }) -join '; '); exit 1 }
        "EdgeSync with {{edge}} is Normal"
        """,
        // The quorum as the DAG sees it, not a ping (ICMP is often blocked): Test-ReplicationHealth's
        // ClusterService, QuorumGroup and FileShareQuorum checks on this member (Microsoft Learn,
        // Test-ReplicationHealth).
        "check-witness": """
        \(shell)
        $checks = @(Test-ReplicationHealth -Identity $env:COMPUTERNAME -ErrorAction Stop | Where-Object { $_.Check -in 'ClusterService','QuorumGroup','FileShareQuorum' })
        $failed = @($checks | Where-Object { "$($_.Result)" -ne 'Passed' })
        if ($checks.Count -lt 3 -or $failed) { "the DAG's quorum is not healthy: " + (($checks | ForEach-Object { "$($_.Check) $($_.Result) $($_.Error)" }) -join '; '); exit 1 }
        "ClusterService, QuorumGroup and FileShareQuorum pass on $env:COMPUTERNAME"
        """,
        // Rule quiesce (KB 328839) and mx-cu-av-disable: the services the host's quiesce-services
        // names (wildcards allowed), or Baton's list of common antivirus, backup and monitoring
        // agents, stopped and remembered for restore-services; then Microsoft's antivirus
        // exclusions for Exchange ("Running Windows antivirus software on Exchange servers"),
        // checked where Microsoft Defender runs (its exclusions are readable), or said to be
        // unchecked.
        "quiesce": #"""
        New-Item -ItemType Directory -Force C:\Baton | Out-Null
        $named = '{{services}}'
        $running = @(Get-Service | Where-Object { $_.Status -eq 'Running' })
        $stopped = if ($named -ne '') { @($running | Where-Object { $service = $_.Name; @($named.Split(',') | Where-Object { $service -like $_ }).Count -gt 0 }) } else { @($running | Where-Object { $_.Name -match '\#(WindowsFailoverCluster.interfering)' }) }
        $stopped | ForEach-Object { Stop-Service -Name $_.Name -Force -ErrorAction Stop }
        $stopped | ForEach-Object { $_.Name } | Set-Content C:\Baton\stopped-services.txt
        if ($stopped) { "stopped: " + (($stopped | ForEach-Object { $_.Name }) -join ', ') }
        elseif ($named -ne '') { "stopped nothing: none of $named runs here" }
        else { "stopped nothing: none of Baton's list runs here (name yours in the host's quiesce-services)" }
        if (Get-Command Get-MpPreference -ErrorAction SilentlyContinue) {
            $preference = Get-MpPreference
            $missing = @()
            if (-not @($preference.ExclusionPath | Where-Object { $_ -and $env:ExchangeInstallPath -like "$($_.TrimEnd('\'))*" })) { $missing += "the folder $env:ExchangeInstallPath" }
            foreach ($process in 'EdgeTransport.exe','Microsoft.Exchange.Store.Worker.exe','MSExchangeFrontendTransport.exe','MSExchangeTransport.exe') {
                if (-not @($preference.ExclusionProcess | Where-Object { $_ -like "*$process" })) { $missing += "the process $process" }
            }
            if ($missing) { "Microsoft Defender does not exclude what Microsoft lists for Exchange: " + ($missing -join ', ') }
            else { "Microsoft Defender excludes the Exchange folder and processes Microsoft lists" }
        } else { "antivirus exclusions not checked: Microsoft Defender does not run here; check your antivirus against Microsoft's list for Exchange" }
        """#,
        "check-pending-reboot": #"""
        $pending = @()
        if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { $pending += 'component servicing' }
        if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { $pending += 'Windows Update' }
        if ((Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue).PendingFileRenameOperations) { $pending += 'PendingFileRenameOperations' }
        if ($pending) { "a restart is pending: " + ($pending -join ', '); exit 1 }
        "no restart pending"
        """#,
        "save-config": #"""
        $saved = 'C:\Baton\config\{{host}}'
        New-Item -ItemType Directory -Force $saved | Out-Null
        $names = '{{files}}'.Split(',')
        Get-ChildItem $env:ExchangeInstallPath -Recurse -File -Include $names | ForEach-Object {
            $relative = $_.FullName.Substring($env:ExchangeInstallPath.Length)
            $target = Join-Path $saved $relative
            New-Item -ItemType Directory -Force (Split-Path $target) | Out-Null
            Copy-Item $_.FullName $target -Force
            "saved $relative"
        }
        """#,
        // The update rewrote these files; their customisations are applied again setting by
        // setting, never by copying the old file back (Microsoft Learn, "Install the latest
        // Cumulative Update"; "Fix failed Exchange Server updates"). Each named setting (an
        // appSettings key or an XPath, from the inventory, base64 JSON in {{settings}}) is read,
        // shown and set; one whose element the update removed fails the step. A saved file
        // with no named settings is compared with the new one and the difference reported.
        "restore-config": #"""
        $saved = 'C:\Baton\config\{{host}}'
        $encoded = '{{settings}}'
        $settings = @()
        if ($encoded -ne '') { $settings = @([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($encoded)) | ConvertFrom-Json) }
        $failed = @()
        foreach ($setting in $settings) {
            $path = Join-Path $env:ExchangeInstallPath $setting.file
            if (-not (Test-Path $path)) { $failed += "$($setting.file): the update left no such file"; continue }
            $xml = New-Object System.Xml.XmlDocument
            $xml.PreserveWhitespace = $true
            $xml.Load($path)
            if ($setting.appSetting) {
                $name = "appSettings key $($setting.appSetting)"
                $element = @($xml.SelectNodes('/configuration/appSettings/add') | Where-Object { $_.GetAttribute('key') -eq $setting.appSetting })[0]
                $node = if ($element) { $element.Attributes['value'] } else { $null }
            } else {
                $name = $setting.xpath
                $node = $xml.SelectSingleNode($setting.xpath)
            }
            if ($null -eq $node) { $failed += "$($setting.file): $name is gone after the update (it was to be '$($setting.value)')"; continue }
            $current = if ($node -is [System.Xml.XmlAttribute]) { $node.Value } else { $node.InnerText }
            if ($current -eq $setting.value) { "$($setting.file): $name is '$current' already"; continue }
            "$($setting.file): $name reads '$current' after the update; set to '$($setting.value)' again"
            if ($node -is [System.Xml.XmlAttribute]) { $node.Value = $setting.value } else { $node.InnerText = $setting.value }
            $xml.Save($path)
        }
        $named = @($settings | ForEach-Object { Split-Path $_.file -Leaf })
        if (Test-Path $saved) {
            Get-ChildItem $saved -Recurse -File | Where-Object { $named -notcontains $_.Name } | ForEach-Object {
                $relative = $_.FullName.Substring($saved.Length)
                $current = Join-Path $env:ExchangeInstallPath $relative
                if (Test-Path $current) {
                    $changes = @(Compare-Object (Get-Content $_.FullName) (Get-Content $current)).Count
                    if ($changes) { "$relative differs in $changes lines from the copy saved before the update ($($_.FullName)); name its settings in custom-config to have them applied again" }
                }
            }
        }
        if ($failed) { $failed; exit 1 }
        """#,
        "rebalance-databases": """
        \(shell)
        & (Join-Path $env:ExchangeInstallPath 'Scripts\\RedistributeActiveDatabases.ps1') -DagName '{{dag}}' -BalanceDbsByActivationPreference -Confirm:$false
        """,
        "prepare-schema": setup + """

            & $setup /PrepareSchema $license
            exit $LASTEXITCODE
            """,
        "prepare-ad": setup + """

            & $setup /PrepareAD $license
            exit $LASTEXITCODE
            """,
        "prepare-domains": setup + """

            & $setup /PrepareAllDomains $license
            exit $LASTEXITCODE
            """,
        // Whether the change setup made reached every domain controller, read on each one (every
        // domain's, through System.DirectoryServices): the schema's rangeUpper
        // (ms-Exch-Schema-Version-Pt), the organization's objectVersion, each domain's Microsoft
        // Exchange System Objects objectVersion, against the package's (Microsoft Learn,
        // "Prepare Active Directory and domains": Exchange Active Directory versions). A domain
        // controller that does not answer is named. One reading: the run asks again until it
        // passes (the profile's settle: for wait-replication).
        "wait-replication": #"""
        $scope = '{{what}}'
        $want = @{ schema = '{{schema-version}}'; organization = '{{organization-version}}'; domains = '{{domain-version}}' }[$scope]
        if ($want -eq '') { "the package names no Active Directory version for $scope; nothing to wait for"; exit 0 }
        $root = [ADSI]'LDAP://RootDSE'
        $schemaNC = [string]$root.schemaNamingContext
        $configNC = [string]$root.configurationNamingContext
        $forest = [System.DirectoryServices.ActiveDirectory.Forest]::GetCurrentForest()
        $behind = @()
        foreach ($domain in $forest.Domains) {
            $domainNC = [string]$domain.GetDirectoryEntry().distinguishedName
            foreach ($controller in $domain.DomainControllers) {
                $name = $controller.Name
                try {
                    $have = switch ($scope) {
                        'schema' { ([ADSI]"LDAP://$name/CN=ms-Exch-Schema-Version-Pt,$schemaNC").Properties['rangeUpper'].Value }
                        'organization' {
                            $searcher = New-Object System.DirectoryServices.DirectorySearcher([ADSI]"LDAP://$name/CN=Microsoft Exchange,CN=Services,$configNC", '(objectClass=msExchOrganizationContainer)')
                            $searcher.FindOne().Properties['objectversion'][0]
                        }
                        default { ([ADSI]"LDAP://$name/CN=Microsoft Exchange System Objects,$domainNC").Properties['objectVersion'].Value }
                    }
                    if ($null -eq $have -or [int]$have -lt [int]$want) { $behind += "$name has $scope version $have, not yet $want" }
                } catch { $behind += "$name does not answer: $($_.Exception.Message)" }
            }
        }
        if ($behind) { "replication has not reached every domain controller: " + ($behind -join '; '); exit 1 }
        "every domain controller has $scope version $want or later"
        """#,
        "install": setup.replacingOccurrences(of: "Setup.exe", with: "{{installer}}") + #"""

            if ('{{kind}}' -eq 'cumulative-update') {
                # Extended Protection kept off where the inventory says (extended-protection).
                $extendedProtection = '{{setup-switches}}'
                if ($extendedProtection -ne '') { & $setup /Mode:Upgrade $license $extendedProtection }
                else { & $setup /Mode:Upgrade $license }
                exit $LASTEXITCODE
            }
            $process = Start-Process msiexec.exe -ArgumentList '/update', "`"$setup`"", '/quiet', '/norestart' -Wait -PassThru
            if ($process.ExitCode -eq 3010) { exit 194 }
            exit $process.ExitCode
            """#,
        "verify-version": #"""
        $build = (Get-Command ExSetup.exe -ErrorAction Stop).FileVersionInfo.FileVersion
        if ([version]$build -ne [version]'{{build}}') { "{{host}} reports build $build, not {{build}}"; exit 1 }
        "reports build $build"
        """#,
        // Windows Server Backup, as Microsoft documents it for Exchange ("Using Windows Server
        // Backup to back up and restore Exchange data"): a VSS full backup of the folders that
        // hold each database and its logs (-allCritical alone covers only the system's
        // volumes), to the host's backup-target; Exchange records LastFullBackup, which is read
        // back for every database of the server.
        "backup": #"""
        $target = '{{backup-target}}'
        if ('{{what}}'.Split(',') -contains 'databases') {
            \#(shell)
            $started = Get-Date
            $databases = @(Get-MailboxDatabase -Server $env:COMPUTERNAME -ErrorAction Stop)
            $folders = @($databases | ForEach-Object { Split-Path ([string]$_.EdbFilePath); [string]$_.LogFolderPath } | Sort-Object -Unique)
            wbadmin start backup "-backupTarget:$target" "-include:$($folders -join ',')" -allCritical -vssFull -quiet
            if ($LASTEXITCODE) { exit $LASTEXITCODE }
            $stale = @(Get-MailboxDatabase -Server $env:COMPUTERNAME -Status -ErrorAction Stop | Where-Object { -not $_.LastFullBackup -or $_.LastFullBackup -lt $started })
            if ($stale) { "Exchange records no new full backup for: " + (($stale | ForEach-Object { $_.Name }) -join ', '); exit 1 }
            "backed up $($databases.Count) databases ($($folders -join ', ')) and the system to $target"
        }
        else { wbadmin start systemstatebackup "-backupTarget:$target" -quiet; exit $LASTEXITCODE }
        """#,
        "leave-pool": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Inactive -Requester Maintenance
        "health probes of {{pool}} now fail on {{host}}: the load balancer takes it out"
        """,
        "rejoin-pool": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Active -Requester Maintenance
        "{{host}} answers the health probes of {{pool}} again"
        """,
    ]

    /// Readiness probes for `baton check` (`RemotePreflight.probes`): each exits 0 when the
    /// server is ready and prints what it found.
    static let probes: [String: String] = [
        "probe-build": #"""
        $build = (Get-Command ExSetup.exe -ErrorAction Stop).FileVersionInfo.FileVersion
        if ('{{build}}' -ne '' -and [version]$build -ne [version]'{{build}}') { "reports build $build; the inventory says {{build}}"; exit 1 }
        "reports build $build"
        """#,
        "probe-pending-reboot": commands["check-pending-reboot"]!,
        "probe-services": """
        $disabled = Get-Service 'MSExchange*','FMS','HostControllerService','W3SVC' -ErrorAction SilentlyContinue | Where-Object { $_.StartType -eq 'Disabled' }
        if ($disabled) { "disabled, as a failed update leaves them: " + (($disabled | ForEach-Object { $_.Name }) -join ', '); exit 1 }
        "no Exchange service is disabled"
        """,
        "probe-components": """
        \(shell)
        $inactive = Get-ServerComponentState $env:COMPUTERNAME | Where-Object { $_.State -ne 'Active' -and $_.Component -notin 'ForwardSyncDaemon','ProvisioningRps' }
        if ($inactive) { ($inactive | ForEach-Object { "$($_.Component) $($_.State) (requester: " + (($_.LocalStates + $_.RemoteStates | ForEach-Object { $_.Requester }) -join ', ') + ")" }) -join '; '; exit 1 }
        "every component is Active"
        """,
        "probe-copies": """
        \(shell)
        if (-not (Get-MailboxServer $env:COMPUTERNAME).DatabaseAvailabilityGroup) { "not a DAG member"; exit 0 }
        \(lagged)
        $bad = Get-MailboxDatabaseCopyStatus -Server $env:COMPUTERNAME | Where-Object { \(unhealthy) }
        if ($bad) { $bad | ForEach-Object { "$($_.Name): $($_.Status), copy queue $($_.CopyQueueLength), replay queue $($_.ReplayQueueLength), index $($_.ContentIndexState)" }; exit 1 }
        "every copy on this server is healthy"
        """,
        // Rule mx-prerequisites: the .NET Framework's Release value and the Visual C++
        // runtimes setup checks for, found as HealthChecker finds them (CSS-Exchange,
        // Shared/VisualCRedistributableVersionFunctions.ps1: the Uninstall key's DisplayName).
        "probe-prerequisites": #"""
        if ('{{dotnet-release}}' -eq '') { "the package needs no prerequisite checked"; exit 0 }
        $release = (Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' -ErrorAction SilentlyContinue).Release
        $names = @(Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue | ForEach-Object { $_.DisplayName })
        $missing = @('{{runtimes}}' -split ',' | Where-Object { $_ -ne '' -and -not ($names -like "Microsoft Visual C++ $_*") })
        $problems = @()
        if (-not $release -or $release -lt [int]'{{dotnet-release}}') { $problems += ".NET Framework release $release, below the {{dotnet-release}} that {{package}} needs (the plan installs it first when the inventory's dotnet says so)" }
        if ($missing) { $problems += "no Visual C++ " + ($missing -join ' or ') + " runtime" }
        if ($problems) { $problems -join '; '; exit 1 }
        ".NET Framework release $release and the Visual C++ {{runtimes}} runtimes are installed"
        """#,
        "probe-execution-policy": """
        $set = Get-ExecutionPolicy -List | Where-Object { $_.Scope -in 'MachinePolicy','UserPolicy' -and $_.ExecutionPolicy -ne 'Undefined' }
        if ($set) { "Group Policy sets the execution policy: " + (($set | ForEach-Object { "$($_.Scope) $($_.ExecutionPolicy)" }) -join ', ') + "; setup's readiness check fails until it is Undefined"; exit 1 }
        "no execution policy set by Group Policy"
        """,
        // Rule windows-network-logon: a key logon on Windows OpenSSH has no network
        // credentials. Reading the Exchange schema's version object needs an authenticated
        // LDAP bind (RootDSE alone does not); a DAG member also reads another member's copies
        // through its Replication service, as check-copies and StartDagServerMaintenance.ps1 do.
        CommandProfileSpec.networkProbe: #"""
        $who = [Security.Principal.WindowsIdentity]::GetCurrent().Name
        try {
            $schema = [string]([ADSI]'LDAP://RootDSE').schemaNamingContext
            $version = ([ADSI]"LDAP://CN=ms-Exch-Schema-Version-Pt,$schema").Properties['rangeUpper'].Value
            if ($null -eq $version) { throw 'the Exchange schema version object cannot be read' }
            "Active Directory read as ${who}: Exchange schema version $version"
        } catch { "$who cannot read Active Directory from this session: $($_.Exception.Message)"; exit 1 }
        $peer = '{{peer}}'
        if ($peer -ne '') {
            try {
                Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn -ErrorAction Stop
                $copies = @(Get-MailboxDatabaseCopyStatus -Server $peer -ErrorAction Stop)
                "the DAG member $peer read as ${who}: $($copies.Count) database copies"
            } catch { "$who cannot read the DAG member $peer from this session: $($_.Exception.Message)"; exit 1 }
        }
        """#,
    ]

    /// Asked on resume for a step that was in flight: each succeeds when the action already
    /// took effect, so nothing runs twice and no server is left in maintenance mode.
    static let checks: [String: String] = [
        "install": #"""
        $build = (Get-Command ExSetup.exe -ErrorAction Stop).FileVersionInfo.FileVersion
        if ('{{build}}' -eq '' -or [version]$build -lt [version]'{{build}}') { exit 1 }
        """#,
        "server-offline": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Inactive') { exit 1 }
        """,
        "server-online": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Active') { exit 1 }
        """,
        "start-dag-maintenance": """
        \(shell)
        if ((Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy -ne 'Blocked') { exit 1 }
        """,
        "stop-dag-maintenance": """
        \(shell)
        if ((Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy -eq 'Blocked') { exit 1 }
        """,
        "drain-transport": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component HubTransport).State -ne 'Draining') { exit 1 }
        """,
        "resume-transport": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component HubTransport).State -ne 'Active') { exit 1 }
        """,
    ]
}
